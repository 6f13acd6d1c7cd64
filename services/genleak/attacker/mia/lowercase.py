"""Lowercase attack (Carlini et al. 2021): compare the target's loss on the text with its loss
on the lowercased text; memorised casing makes the original relatively much more likely.

needs "lowercase": `text.lower()` scored by the TARGET model. Default mode "ratio" follows
Carlini's perplexity ratio: -(avg NLL(text) / avg NLL(text.lower())); "difference" gives
mean logp(text) - mean logp(text.lower()). Both: higher = member.
"""

from __future__ import annotations

from typing import Mapping

from pydantic import Field

from genleak.core.specs import Spec
from genleak.attacker.mia.logprobs import TokenLogProbs
from genleak.attacker.mia.reference import CompareMode, compare_losses
from genleak.attacker.mia.registry import register_attack


class LowercaseConfig(Spec):
    mode: CompareMode = Field("ratio", description="How the original and lowercased losses combine")


def lowercase_score(target: TokenLogProbs, extras: Mapping[str, TokenLogProbs], config: LowercaseConfig) -> float:
    return compare_losses(target, extras["lowercase"], config.mode)


register_attack("lowercase", LowercaseConfig, lowercase_score, needs=("lowercase",))
