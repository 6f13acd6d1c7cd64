"""Which texts a membership-inference job scores: MIMIR-style selection (word-length filter,
truncation, seeded sampling). Part of the contract because two parties must agree on it exactly:
the attacker scores what it selects, and a controller that shards one job slices the same selection.

Differences from MIMIR, on purpose: truncation to `max_words` keeps the text's own whitespace
(MIMIR re-joins words with single spaces, which changes e-mail layout and so the very token
sequences a model memorised), and sampling is seeded and keeps the source order.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any, Sequence

from pydantic import Field, model_validator

from genleak.core.errors import InvalidSpec
from genleak.core.specs import Spec

_WORD = re.compile(r"\S+")


class TextSelection(Spec):
    text_field: str = Field("text", min_length=1, description="Record field holding the text")
    min_words: int = Field(0, ge=0, description="Drop texts with fewer words (MIMIR: 100)")
    max_words: int | None = Field(None, ge=1, description="Truncate texts to this many words (MIMIR: 200); None = keep")
    n_samples: int | None = Field(None, ge=1, description="Texts per side, sampled with `seed` (MIMIR: 1000); None = all")
    seed: int = Field(0, description="Sampling seed")

    @model_validator(mode="after")
    def _min_below_max(self) -> "TextSelection":
        if self.max_words is not None and self.min_words > self.max_words:
            raise ValueError(f"min_words ({self.min_words}) exceeds max_words ({self.max_words})")
        return self


@dataclass(frozen=True)
class SelectedTexts:
    texts: list[str]
    source_index: list[int]  # row of each text in the source dataset (scores are reported by row, not text)
    n_source: int
    n_too_short: int


def select_texts(records: Sequence[dict[str, Any]], selection: TextSelection, side: str) -> SelectedTexts:
    """Texts of one side ("members"/"nonmembers") after filtering, truncation and sampling."""
    kept: list[tuple[int, str]] = []
    too_short = 0
    for i, record in enumerate(records):
        text = record.get(selection.text_field) if isinstance(record, dict) else None
        if not isinstance(text, str):
            raise InvalidSpec(f"record {i} has no string field {selection.text_field!r}", field=f"{side}[{i}]")
        if count_words(text) < selection.min_words:
            too_short += 1
            continue
        kept.append((i, truncate_words(text, selection.max_words)))
    if not kept:
        raise InvalidSpec(f"no {side} text has at least min_words={selection.min_words} words "
                          f"({len(records)} records)", field=side)
    if selection.n_samples is not None and selection.n_samples < len(kept):
        rng = random.Random(f"genleak-mia:{side}:{selection.seed}")
        kept = sorted(rng.sample(kept, selection.n_samples))
    return SelectedTexts([t for _, t in kept], [i for i, _ in kept], len(records), too_short)


def count_words(text: str) -> int:
    return sum(1 for _ in _WORD.finditer(text))


def truncate_words(text: str, max_words: int | None) -> str:
    """The text up to the end of its `max_words`-th word, original spacing kept."""
    if max_words is None:
        return text
    for n, match in enumerate(_WORD.finditer(text), 1):
        if n == max_words:
            return text[: match.end()]
    return text
