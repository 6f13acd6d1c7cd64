"""Min-K%++ (Zhang et al. 2024): Min-K% over per-token z-scores (logp - mu) / sigma.

mu/sigma are the mean/std of log p over the vocabulary under the model's own next-token
distribution, so a token counts as "unlikely" relative to how peaked that position is.
Higher = member.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from pydantic import Field

from genleak.core.errors import InvalidSpec
from genleak.core.specs import Spec
from genleak.attacker.mia.logprobs import TokenLogProbs
from genleak.attacker.mia.min_k import mean_of_lowest
from genleak.attacker.mia.registry import register_attack


class MinKPlusPlusConfig(Spec):
    k: float = Field(0.2, gt=0, le=1, description="Fraction of lowest-scoring tokens averaged")
    sigma_floor: float = Field(
        1e-6, gt=0, description="Lower bound on sigma, so near-one-hot positions do not divide by zero"
    )


def min_k_plus_plus_score(
    target: TokenLogProbs, extras: Mapping[str, TokenLogProbs], config: MinKPlusPlusConfig
) -> float:
    if target.mu is None or target.sigma is None:
        raise InvalidSpec(
            "min_k_plus_plus needs log-probs scored with vocabulary mu/sigma: use the hf scoring engine, "
            "or the vllm engine with vocab stats enabled (with_vocab_stats=True)",
            field="min_k_plus_plus",
        )
    z = (target.logprobs - target.mu) / np.maximum(target.sigma, config.sigma_floor)
    return mean_of_lowest(z, config.k)


register_attack("min_k_plus_plus", MinKPlusPlusConfig, min_k_plus_plus_score)
