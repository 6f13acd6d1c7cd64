"""LOSS attack (Yeom et al. 2018): members have lower loss. Score = mean log-prob = -avg NLL."""

from __future__ import annotations

from typing import Mapping

from genleak.core.specs import Spec
from genleak.attacker.mia.logprobs import TokenLogProbs
from genleak.attacker.mia.registry import register_attack


class LossConfig(Spec):
    """The LOSS attack has no knobs."""


def loss_score(target: TokenLogProbs, extras: Mapping[str, TokenLogProbs], config: LossConfig) -> float:
    return target.mean_logprob


register_attack("loss", LossConfig, loss_score)
