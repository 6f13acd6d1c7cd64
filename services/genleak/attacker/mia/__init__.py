"""Membership-inference attacks over shared per-token log-probs.

Usage: score texts once per model with `score_texts_hf` (target; plus reference model and/or
lowercased texts if an attack `needs` them), then `run_attacks` -> per-attack scores
(HIGHER = more likely member), then `compute_metrics(member_scores, nonmember_scores)`.
Importing this package registers every attack; adding one = one file + a register line here.
The membership-inference job (spec, inputs from the store, outputs to the store) is job.py.
"""

from genleak.attacker.mia import loss, lowercase, min_k, min_k_plus_plus, neighbourhood, reference, zlib  # noqa: F401
from genleak.attacker.mia.logprobs import TokenLogProbs, score_texts_hf
from genleak.attacker.mia.metrics import MIAMetrics, compute_metrics, plot_roc
from genleak.attacker.mia.scorers import get_scorer, register_scorer, scorer_names
from genleak.attacker.mia.registry import EXTRA_TEXT, attack_names, get_attack, register_attack, run_attacks

__all__ = [
    "EXTRA_TEXT",
    "MIAMetrics",
    "TokenLogProbs",
    "attack_names",
    "compute_metrics",
    "get_attack",
    "get_scorer",
    "register_scorer",
    "scorer_names",
    "plot_roc",
    "register_attack",
    "run_attacks",
    "score_texts_hf",
]
