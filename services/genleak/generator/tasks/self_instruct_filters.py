"""Filters of the self-instruct loop (Wang et al. 2023, section 2.3; Alpaca's blacklist additions).

Each rejection has a name, so the task can count every filter separately in its stats.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

# Wang et al.'s list (tasks a language model cannot do: images, files, plots...) plus Alpaca's additions.
BLACKLIST = ("image", "images", "graph", "graphs", "picture", "pictures", "file", "files", "map", "maps", "draw",
             "plot", "go to", "video", "audio", "music", "flowchart", "diagram")

INSTRUCTION_REASONS = ("empty", "too_short", "too_long", "blacklist", "bad_start")
OUTPUT_REASONS = ("empty_output", "output_too_long")


@dataclass(frozen=True)
class InstructionRules:
    min_words: int
    max_words: int
    blacklist: tuple[str, ...]
    require_letter_start: bool

    def rejection(self, instruction: str) -> str | None:
        """The first rule the instruction breaks, or None when it passes."""
        n_words = len(instruction.split())
        if n_words == 0:
            return "empty"
        if n_words < self.min_words:
            return "too_short"
        if n_words > self.max_words:
            return "too_long"
        pattern = _blacklist_pattern(self.blacklist)
        if pattern is not None and pattern.search(instruction):
            return "blacklist"
        first = instruction[0]
        if self.require_letter_start and not (first.isascii() and first.isalpha()):
            return "bad_start"  # Wang et al.: punctuation or non-English first characters are junk
        return None


@lru_cache(maxsize=8)
def _blacklist_pattern(blacklist: tuple[str, ...]) -> re.Pattern | None:
    # Whole words only ("file" must not reject "profile"); one regex for the whole list.
    words = "|".join(re.escape(w) for w in blacklist if w.strip())
    return re.compile(rf"\b(?:{words})\b", re.IGNORECASE) if words else None


def output_rejection(output: str, max_words: int | None) -> str | None:
    n_words = len(output.split())
    if n_words == 0:
        return "empty_output"
    if max_words is not None and n_words > max_words:
        return "output_too_long"
    return None


class _CachingTokenizer:
    """rouge_score's default tokenizer, memoised: every pool text is scored against many candidates."""

    def __init__(self) -> None:
        from rouge_score import tokenizers  # imported on use: it pulls in nltk (about a second)

        self._inner = tokenizers.DefaultTokenizer(use_stemmer=False)
        self._cache: dict[str, list[str]] = {}

    def tokenize(self, text: str) -> list[str]:
        tokens = self._cache.get(text)
        if tokens is None:
            tokens = self._cache[text] = self._inner.tokenize(text)
        return tokens


class RougePool:
    """Texts a candidate must not nearly duplicate: ROUGE-L F >= threshold against any of them.

    ROUGE-L F = 2 * LCS / (len_a + len_b), and the LCS is at most the multiset overlap of the two
    token lists, so pairs whose overlap bound is below the threshold are skipped without the
    quadratic LCS: scoring stays fast with hundreds of instructions in the pool.
    """

    def __init__(self, threshold: float, texts: Iterable[str] = ()):
        from rouge_score import rouge_scorer

        self.threshold = threshold
        self._tokenizer = _CachingTokenizer()
        self._scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False, tokenizer=self._tokenizer)
        self._entries: list[tuple[str, Counter, int]] = []
        self.exact_scores = 0  # LCS computations actually run (the bound skipped the rest)
        for text in texts:
            self.add(text)

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, text: str) -> None:
        tokens = self._tokenizer.tokenize(text)
        self._entries.append((text, Counter(tokens), len(tokens)))

    def near_duplicate(self, candidate: str) -> str | None:
        """The first pooled text the candidate nearly duplicates, or None."""
        tokens = self._tokenizer.tokenize(candidate)
        counts, length = Counter(tokens), len(tokens)
        for text, pooled, pooled_len in self._entries:
            total = length + pooled_len
            if total == 0:
                continue
            overlap = sum(min(n, pooled[t]) for t, n in counts.items())
            if 2 * overlap / total < self.threshold:
                continue
            self.exact_scores += 1
            if self._scorer.score(text, candidate)["rougeL"].fmeasure >= self.threshold:
                return text
        return None
