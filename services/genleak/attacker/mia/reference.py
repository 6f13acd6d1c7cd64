"""Reference-model attack (Carlini et al. 2021; MIMIR "ref"): calibrate the target's loss by
the loss of the same text under a reference model that did not see the members.

needs "reference": the same texts scored by the reference model. Modes (higher = member):
- "difference": target mean logp - reference mean logp (= MIMIR's loss_t - loss_ref, negated)
- "ratio":      -(target avg NLL / reference avg NLL)
"""

from __future__ import annotations

from typing import Literal, Mapping

from pydantic import Field

from genleak.core.specs import Spec
from genleak.attacker.mia.logprobs import TokenLogProbs
from genleak.attacker.mia.registry import register_attack

CompareMode = Literal["difference", "ratio"]


class ReferenceConfig(Spec):
    mode: CompareMode = Field("difference", description="How target and reference losses combine")


def compare_losses(target: TokenLogProbs, other: TokenLogProbs, mode: CompareMode) -> float:
    """Higher = target finds the text relatively more likely than `other` does."""
    if mode == "difference":
        return target.mean_logprob - other.mean_logprob
    # Mean logps are negative NLLs, so their ratio is the NLL ratio; negate for higher = member.
    return -(target.mean_logprob / other.mean_logprob)


def reference_score(target: TokenLogProbs, extras: Mapping[str, TokenLogProbs], config: ReferenceConfig) -> float:
    return compare_losses(target, extras["reference"], config.mode)


register_attack("reference", ReferenceConfig, reference_score, needs=("reference",))
