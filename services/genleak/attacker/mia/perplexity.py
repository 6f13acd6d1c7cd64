"""Perplexity from shared log-probs: the utility measure reported next to every MIA result."""

from __future__ import annotations

import math
from typing import Sequence

from genleak.attacker.mia.logprobs import TokenLogProbs


def perplexity(scored: Sequence[TokenLogProbs]) -> float:
    """Token-weighted perplexity exp(sum NLL / tokens) over all texts (as HF `evaluate` pools it
    per text, we pool per token: long texts then weigh by their length, not one vote each)."""
    total = sum(float(s.logprobs.sum()) for s in scored)
    tokens = sum(int(s.logprobs.size) for s in scored)
    return math.exp(-total / tokens) if tokens else float("nan")
