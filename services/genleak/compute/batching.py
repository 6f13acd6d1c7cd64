"""Token-id lists -> batches: grouping by length and right padding into tensors.

Grouping: a shuffled order is cut into mega-batches, each sorted longest first and cut into
batches, so a batch holds documents of similar length and pads little. The caller shuffles (the
order, and then the batches) with its own seeded generator, which keeps runs reproducible.

Padding: right padding to the batch's longest sequence with an attention mask, which leaves every
real token's position and context exactly as in an unpadded pass. Labels for causal LM training are
the input ids with IGNORE_INDEX on padding (and on an optional prompt prefix), masked by position,
so a real EOS keeps its label even when the pad id equals the EOS id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import torch

T = TypeVar("T")

# Label of a position that gets no loss (torch cross_entropy's and transformers' ignore_index).
IGNORE_INDEX = -100


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    """Consecutive batches of `size` items (the last one may be shorter)."""
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def length_grouped(order: Sequence[int], lengths: Sequence[int], batch_size: int, megabatch: int) -> list[list[int]]:
    """Batches of indices: `order` cut into mega-batches of `megabatch` batches, each sorted by
    length, longest first (ties keep their order), then cut into batches of `batch_size`."""
    span = batch_size * megabatch
    batches: list[list[int]] = []
    for start in range(0, len(order), span):
        mega = sorted(order[start : start + span], key=lambda i: lengths[i], reverse=True)
        batches.extend(chunks(mega, batch_size))
    return batches


def pad_right(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask), both long tensors of shape (batch, longest sequence)."""
    width = max(len(ids) for ids in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, ids in enumerate(sequences):
        input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        attention_mask[row, : len(ids)] = 1
    return input_ids, attention_mask


def causal_lm_batch(sequences: Sequence[Sequence[int]], pad_id: int,
                    no_loss_prefix: Sequence[int] | None = None) -> dict[str, torch.Tensor]:
    """input_ids, attention_mask and labels for causal LM training: labels are the ids, with
    IGNORE_INDEX on padding and on the first `no_loss_prefix[row]` tokens of each row."""
    input_ids, attention_mask = pad_right(sequences, pad_id)
    labels = input_ids.masked_fill(attention_mask == 0, IGNORE_INDEX)
    for row, prefix in enumerate(no_loss_prefix or ()):
        labels[row, :prefix] = IGNORE_INDEX
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
