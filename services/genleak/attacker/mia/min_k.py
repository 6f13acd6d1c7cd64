"""Min-K% Prob (Shi et al. 2024): mean of the k fraction of lowest token log-probs.

Members rarely contain very unlikely tokens, so a higher mean of the worst tokens = member.
(MIMIR returns the negation, lower = member.)
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
from pydantic import Field

from genleak.core.specs import Spec
from genleak.attacker.mia.logprobs import TokenLogProbs
from genleak.attacker.mia.registry import register_attack


class MinKConfig(Spec):
    k: float = Field(0.2, gt=0, le=1, description="Fraction of lowest-scoring tokens averaged")


def mean_of_lowest(values: np.ndarray, k: float) -> float:
    """Mean of the floor(k*n) smallest values, at least one (MIMIR's int(n*k) would average
    nothing, giving nan, for short texts); nan when `values` is empty."""
    if values.size == 0:
        return float("nan")
    count = max(1, math.floor(values.size * k))
    return float(np.mean(np.sort(values)[:count]))


def min_k_score(target: TokenLogProbs, extras: Mapping[str, TokenLogProbs], config: MinKConfig) -> float:
    return mean_of_lowest(target.logprobs, config.k)


register_attack("min_k", MinKConfig, min_k_score)
