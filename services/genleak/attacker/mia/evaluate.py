"""One membership-inference evaluation: score members and non-members once per model, run
every requested attack on the shared log-probs, compute metrics. No store, no transport."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from genleak.attacker.mia.logprobs import TokenLogProbs
from genleak.attacker.mia.metrics import MIAMetrics, compute_metrics
from genleak.attacker.mia.perplexity import perplexity
from genleak.attacker.mia.registry import EXTRA_TEXT, get_attack, run_attacks
from genleak.attacker.mia.scorers import get_scorer
from genleak.core.errors import InvalidSpec
from genleak.core.progress import NULL_REPORTER, Reporter
from genleak.engines.base import EngineConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetricOptions:
    fprs: tuple[float, ...] = (0.01, 0.001)
    n_bootstrap: int = 1000
    seed: int = 0


@dataclass
class MIAOutcome:
    metrics: dict[str, MIAMetrics]
    member_scores: dict[str, np.ndarray]
    nonmember_scores: dict[str, np.ndarray]
    member_tokens: list[int]
    nonmember_tokens: list[int]
    nonmember_perplexity: float
    heldout_perplexity: float | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    tokens_scored: int = 0


def required_extras(attacks: Mapping[str, Any]) -> set[str]:
    return {need for name in attacks for need in get_attack(name).needs}


def evaluate_membership(
    target_dir: Path,
    members: list[str],
    nonmembers: list[str],
    attacks: Mapping[str, Any],
    engine: EngineConfig,
    max_tokens: int,
    reference_dir: Path | None = None,
    options: MetricOptions = MetricOptions(),
    reporter: Reporter = NULL_REPORTER,
    heldout: list[str] | None = None,
) -> MIAOutcome:
    """Scores (higher = member) and metrics of each attack in `attacks` (name -> config).

    `heldout` texts, when given, are scored in the same target pass for their perplexity only.
    """
    needs = required_extras(attacks)
    if "reference" in needs and reference_dir is None:
        raise InvalidSpec("the reference attack needs a reference model", field="reference_model")
    seconds: dict[str, float] = {}
    texts = members + nonmembers
    target, extras, tokens, heldout_scored = _score_all(target_dir, texts, attacks, engine, max_tokens, reference_dir,
                                                        reporter, seconds, heldout or [])
    n = len(members)
    member_scores = run_attacks(attacks, target[:n], {k: v[:n] for k, v in extras.items()})
    nonmember_scores = run_attacks(attacks, target[n:], {k: v[n:] for k, v in extras.items()})
    started = time.perf_counter()
    metrics = {name: compute_metrics(member_scores[name], nonmember_scores[name], options.fprs,
                                     options.n_bootstrap, options.seed) for name in attacks}
    seconds["metrics"] = round(time.perf_counter() - started, 3)
    return MIAOutcome(metrics=metrics, member_scores=member_scores, nonmember_scores=nonmember_scores,
                      member_tokens=[t.token_ids.size for t in target[:n]],
                      nonmember_tokens=[t.token_ids.size for t in target[n:]],
                      nonmember_perplexity=perplexity(target[n:]),
                      heldout_perplexity=perplexity(heldout_scored) if heldout else None,
                      seconds=seconds, tokens_scored=tokens)


def _neighbour_texts(texts: list[str], attacks: Mapping[str, Any], reporter: Reporter,
                     seconds: dict[str, float]) -> list[list[str]]:
    """The neighbourhood attack's neighbours of every text, from the masked LM its config names
    (a local folder by now: the service resolved the model reference)."""
    from genleak.attacker.mia.neighbourhood import generate_neighbours
    from genleak.attacker.mia.registry import parse_attack_config

    name = next(n for n in attacks if "neighbours" in get_attack(n).needs)
    config = parse_attack_config(name, attacks[name])
    started = time.perf_counter()
    neighbours = generate_neighbours(Path(config.mask_model), texts, config, reporter)
    seconds["neighbours"] = round(time.perf_counter() - started, 3)
    log.info("neighbourhood attack: %d neighbours for %d texts in %.1fs (the target scores them too)",
             sum(len(g) for g in neighbours), len(texts), seconds["neighbours"])
    return neighbours


def _regroup(flat: list[TokenLogProbs], sizes: list[int]) -> list[list[TokenLogProbs]]:
    groups, start = [], 0
    for size in sizes:
        groups.append(flat[start : start + size])
        start += size
    return groups


def needs_vocab_stats(attacks: Mapping[str, Any]) -> bool:
    """Whether an attack reads mu/sigma (the vocabulary statistics only Min-K%++ uses)."""
    return "min_k_plus_plus" in attacks


def score_with_extras(target_dir: Path, texts: list[str], attacks: Mapping[str, Any], engine: EngineConfig,
                      max_tokens: int, reference_dir: Path | None = None, reporter: Reporter = NULL_REPORTER,
                      ) -> tuple[list[TokenLogProbs], dict[str, list[TokenLogProbs]]]:
    """Target log-probs of `texts` plus the extra inputs the `attacks` need, one pass per model."""
    target, extras, _, _ = _score_all(target_dir, texts, attacks, engine, max_tokens, reference_dir, reporter, {}, [])
    return target, extras


def _score_all(target_dir: Path, texts: list[str], attacks: Mapping[str, Any], engine: EngineConfig, max_tokens: int,
               reference_dir: Path | None, reporter: Reporter, seconds: dict[str, float], heldout: list[str],
               ) -> tuple[list[TokenLogProbs], dict[str, list], int, list[TokenLogProbs]]:
    """ONE scorer call per model: the target scores the texts (and their lowercased forms, and their
    neighbours, when those attacks run) in a single pass; the reference model scores the texts once."""
    needs, vocab_stats = required_extras(attacks), needs_vocab_stats(attacks)
    scorer = get_scorer(engine.name)
    lowered = [EXTRA_TEXT["lowercase"](t) for t in texts] if "lowercase" in needs else []
    neighbours = _neighbour_texts(texts, attacks, reporter, seconds) if "neighbours" in needs else []
    flat = [n for group in neighbours for n in group]
    started = time.perf_counter()
    # Only the target texts feed Min-K%++: their lowercased forms, held-out texts and neighbours need no vocab stats.
    flags = [vocab_stats] * len(texts) + [False] * (len(lowered) + len(heldout) + len(flat))
    scored = scorer(target_dir, texts + lowered + heldout + flat, engine, max_tokens, reporter,
                    with_vocab_stats=flags if vocab_stats else False)
    seconds["score_target"] = round(time.perf_counter() - started, 3)
    n, n_low, n_held = len(texts), len(lowered), len(heldout)
    target, extras, heldout_scored = scored[:n], {}, scored[n + n_low : n + n_low + n_held]
    if lowered:
        extras["lowercase"] = scored[n : n + n_low]
    if neighbours:
        extras["neighbours"] = _regroup(scored[n + n_low + n_held :], [len(g) for g in neighbours])
    tokens = sum(s.token_ids.size for s in scored)
    if "reference" in needs:
        started = time.perf_counter()
        extras["reference"] = scorer(reference_dir, texts, engine, max_tokens, reporter, with_vocab_stats=False)
        seconds["score_reference"] = round(time.perf_counter() - started, 3)
        tokens += sum(s.token_ids.size for s in extras["reference"])
    log.info("MIA scoring: %d texts, %d tokens, %s", len(texts), tokens, seconds)
    return target, extras, tokens, heldout_scored
