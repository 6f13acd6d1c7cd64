"""Filters of the self-instruct loop, as Wang et al. 2023 apply them (github yizhongw/self-instruct).

Instructions (their `bootstrap_instructions.py`, `post_process_gpt3_response` and the ROUGE-L check):
3 words or fewer or more than 150 dropped; any blacklisted keyword as a whole word dropped; a start
with "Write a program" dropped; a first character that is ASCII punctuation or not ASCII dropped;
ROUGE-L F strictly above 0.7 against any seed or kept instruction dropped.
Instances (their `prepare_for_finetuning.py`, `filter_invalid_instances`): empty output, input equal
to output, and input or output ending in ":" (a cut-off generation) dropped. genleak adds one rule of
its own, an optional cap on output words.

Each rejection has a name, so the task can count every filter separately in its stats.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Iterable

# Wang et al.'s keywords: tasks a text-only model cannot do (images, files, plots, going places).
WANG_BLACKLIST = ("image", "images", "graph", "graphs", "picture", "pictures", "file", "files", "map", "maps",
                  "draw", "plot", "go to")
# Stanford Alpaca's generate_instruction.py adds these five; opt in by passing this list as `blacklist`.
ALPACA_BLACKLIST = WANG_BLACKLIST + ("video", "audio", "music", "flowchart", "diagram")
BLACKLIST = WANG_BLACKLIST  # the default
WRITE_PROGRAM = "write a program"

INSTRUCTION_REASONS = ("empty", "too_short", "too_long", "blacklist", "write_program", "bad_start")
INSTANCE_REASONS = ("empty_output", "same_input_output", "colon_end", "output_too_long")


@dataclass(frozen=True)
class InstructionRules:
    """Wang et al.'s rule filters, in their order. `min_words` is the fewest words kept (theirs: 4)."""

    min_words: int
    max_words: int
    blacklist: tuple[str, ...]
    drop_write_program: bool = True
    drop_bad_start: bool = True

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
        # Wang et al.: the model keeps prefixing tasks with "write a program", and whether it should then
        # write code or the result is unclear. Their check runs after str.capitalize(), hence any case here.
        if self.drop_write_program and instruction.lower().startswith(WRITE_PROGRAM):
            return "write_program"
        first = instruction.lstrip()[0]
        if self.drop_bad_start and (first in string.punctuation or not first.isascii()):
            return "bad_start"  # list debris ("- ...", "(b) ...") and non-English text
        return None


@lru_cache(maxsize=8)
def _blacklist_pattern(blacklist: tuple[str, ...]) -> re.Pattern | None:
    # Whole words only ("file" must not reject "profile"), case-insensitive; one regex for the whole list.
    words = "|".join(re.escape(w) for w in blacklist if w.strip())
    return re.compile(rf"\b(?:{words})\b", re.IGNORECASE) if words else None


def instance_rejection(input_text: str, output: str, max_output_words: int | None) -> str | None:
    """The first instance filter an (input, output) pair fails, or None (Wang et al.'s order, then genleak's cap)."""
    input_text, output = input_text.strip(), output.strip()
    n_words = len(output.split())
    if n_words == 0:
        return "empty_output"
    if input_text == output:
        return "same_input_output"
    if input_text.endswith(":") or output.endswith(":"):
        return "colon_end"  # Wang et al.: usually a generation that stopped before its content
    if max_output_words is not None and n_words > max_output_words:
        return "output_too_long"
    return None


class _CachingTokenizer:
    """rouge_score's default tokenizer (what Wang et al. use), memoised: pool texts meet many candidates."""

    def __init__(self) -> None:
        from rouge_score import tokenizers  # imported on use: it pulls in nltk (about a second)

        self._inner = tokenizers.DefaultTokenizer(use_stemmer=False)
        self._cache: dict[str, list[str]] = {}

    def tokenize(self, text: str) -> list[str]:
        tokens = self._cache.get(text)
        if tokens is None:
            tokens = self._cache[text] = self._inner.tokenize(text)
        return tokens


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of two token lists (ROUGE-L's core)."""
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0]
        for j, other in enumerate(b, 1):
            current.append(previous[j - 1] + 1 if token == other else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


class RougePool:
    """Texts a candidate must not nearly duplicate: ROUGE-L F strictly above `threshold` against any of them.

    ROUGE-L F (beta 1, rouge_score's tokenizer, no stemming, as Wang et al.) is exactly
    2 * LCS / (len_a + len_b). It is compared in exact arithmetic with the threshold read as the decimal
    it is written as, so a pair at exactly 0.7 passes; Wang et al. compare rouge_score's float, whose
    rounding can put such a pair on either side. The LCS is at most the multiset overlap of the two
    token lists, so pairs whose overlap bound cannot exceed the threshold skip the quadratic LCS:
    scoring stays fast with hundreds of instructions in the pool.
    """

    def __init__(self, threshold: float, texts: Iterable[str] = ()):
        self.threshold = threshold
        limit = Fraction(repr(float(threshold)))  # 0.7 -> 7/10, not the binary float's 0.69999...
        self._num, self._den = limit.numerator, limit.denominator
        self._tokenizer = _CachingTokenizer()
        self._entries: list[tuple[str, list[str], Counter]] = []
        self.exact_scores = 0  # LCS computations actually run (the bound skipped the rest)
        for text in texts:
            self.add(text)

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, text: str) -> None:
        tokens = self._tokenizer.tokenize(text)
        self._entries.append((text, tokens, Counter(tokens)))

    def fmeasure(self, a: str, b: str) -> Fraction:
        """ROUGE-L F of two texts, exactly."""
        ta, tb = self._tokenizer.tokenize(a), self._tokenizer.tokenize(b)
        total = len(ta) + len(tb)
        return Fraction(2 * lcs_length(ta, tb), total) if total else Fraction(0)

    def near_duplicate(self, candidate: str) -> str | None:
        """The first pooled text the candidate nearly duplicates (F > threshold), or None."""
        tokens = self._tokenizer.tokenize(candidate)
        counts = Counter(tokens)
        for text, pooled, pooled_counts in self._entries:
            total = len(tokens) + len(pooled)
            if total == 0:
                continue
            overlap = sum(min(n, pooled_counts[t]) for t, n in counts.items())
            if not self._above(overlap, total):
                continue
            self.exact_scores += 1
            if self._above(lcs_length(tokens, pooled), total):
                return text
        return None

    def _above(self, common: int, total: int) -> bool:
        # 2 * common / total > num / den, in integers
        return 2 * common * self._den > self._num * total
