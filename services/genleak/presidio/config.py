"""The detected span (pure: no Presidio import). The analyzer's settings are a contract: genleak.contracts.pii."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Detection:
    """One detected span of one text. `value` is the raw text: PII, never shown unmasked by default."""

    entity_type: str
    start: int
    end: int
    score: float
    recognizer: str
    value: str
