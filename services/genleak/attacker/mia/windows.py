"""Texts longer than the model's context, scored in sliding windows as MIMIR scores them.

A model has log-probs only for positions it was trained on. MIMIR (`Model.get_probabilities`)
walks a long text in steps of half the context: the window for step i covers tokens
[max(i + stride - context, 0), min(i + stride, n)) and contributes the log-probs of tokens
[i, min(i + stride, n)), so every token is predicted from at least half a context of its left
neighbours. A text that fits the context is one window, identical to a single forward pass.
Both scorers (hf, vllm) plan windows here, score each window as a sequence, and stitch. To
truncate instead (scores of the first context tokens only), set the MIA's max_tokens to the context.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Window:
    text: int    # index of the text
    begin: int   # first token of the window (its context starts here)
    end: int     # one past the last token
    first: int   # first token whose log-prob this window contributes (>= 1)


def plan_windows(encoded: Sequence[Sequence[int]], context: int) -> list[Window]:
    """MIMIR's windows for every text, in text order then position order."""
    if context < 2:
        raise ValueError(f"a context of {context} positions cannot score anything")
    stride = context // 2
    windows = []
    for t, ids in enumerate(encoded):
        n = len(ids)
        if n <= context:
            windows.append(Window(t, 0, n, 1))
            continue
        for i in range(0, n, stride):
            windows.append(Window(t, max(i + stride - context, 0), min(i + stride, n), max(i, 1)))
    return windows


def window_ids(encoded: Sequence[Sequence[int]], windows: Sequence[Window]) -> list[list[int]]:
    return [list(encoded[w.text][w.begin:w.end]) for w in windows]


def stitch(windows: Sequence[Window], per_window: Sequence[Sequence[np.ndarray | None]],
           n_texts: int) -> list[tuple[np.ndarray | None, ...]]:
    """Per text, the concatenated arrays (log-prob, and mu/sigma where every window has them) of its windows.

    `per_window[k]` holds arrays over window k's own next-token positions (length end - begin - 1);
    only the tokens the window contributes are kept.
    """
    width = len(per_window[0]) if per_window else 1
    parts: list[list[Sequence[np.ndarray | None]]] = [[] for _ in range(n_texts)]
    for window, arrays in zip(windows, per_window):
        keep = slice(window.first - window.begin - 1, None)
        parts[window.text].append([a[keep] if a is not None else None for a in arrays])
    out = []
    for text_parts in parts:
        columns = []
        for j in range(width):
            pieces = [p[j] for p in text_parts]
            columns.append(None if not pieces or any(x is None for x in pieces) else np.concatenate(pieces))
        out.append(tuple(columns))
    return out


def windowed_count(windows: Sequence[Window]) -> int:
    """How many texts needed more than one window."""
    counts: dict[int, int] = {}
    for w in windows:
        counts[w.text] = counts.get(w.text, 0) + 1
    return sum(1 for n in counts.values() if n > 1)
