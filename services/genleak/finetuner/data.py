"""Records -> token ids -> length-grouped, dynamically padded batches.

Padding is per batch (to the longest sequence in it), never to max_length: with short
generated texts, pad-to-max spends most compute on padding. Loss is masked on padding
positions only, by position, so a real EOS still gets trained even when pad id == eos id.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from genleak.core.errors import InvalidSpec
from genleak.finetuner.config import DataFormat

IGNORE_INDEX = -100


@dataclass(frozen=True)
class EncodedDataset:
    ids: tuple[tuple[int, ...], ...]
    n_truncated: int

    @property
    def lengths(self) -> list[int]:
        return [len(seq) for seq in self.ids]

    def __len__(self) -> int:
        return len(self.ids)


def select_records(records: Sequence[dict[str, Any]], last_n: int | None) -> Sequence[dict[str, Any]]:
    """The paper trains on the LAST rows of the file (the first rows are the attack's targets)."""
    return records if last_n is None else records[-last_n:]


def record_texts(records: Sequence[dict[str, Any]], fmt: DataFormat) -> list[str]:
    if not records:
        raise InvalidSpec("no training records", field="records")
    if fmt.format == "text":
        return [_field(rec, fmt.text_field, i) for i, rec in enumerate(records)]
    return [_field(rec, fmt.prompt_field, i) + _field(rec, fmt.continuation_field, i) for i, rec in enumerate(records)]


def _field(record: dict[str, Any], name: str, index: int) -> str:
    value = record.get(name) if isinstance(record, dict) else None
    if not isinstance(value, str):
        raise InvalidSpec(
            f"expected a string field {name!r}, got {type(value).__name__}", field=f"records[{index}].{name}"
        )
    return value


def encode_texts(tokenizer: Any, texts: list[str], max_length: int) -> EncodedDataset:
    """Tokenise with the model's usual special tokens, append EOS, then truncate (as the paper does)."""
    eos = tokenizer.eos_token_id
    encoded = tokenizer(texts, add_special_tokens=True)["input_ids"]
    full = [list(ids) + [eos] for ids in encoded]
    truncated = sum(len(ids) > max_length for ids in full)
    return EncodedDataset(ids=tuple(tuple(ids[:max_length]) for ids in full), n_truncated=truncated)


def batch_order(
    lengths: Sequence[int],
    batch_size: int,
    seed: int,
    epoch: int,
    group_by_length: bool = True,
    megabatch: int = 50,
) -> list[list[int]]:
    """Indices per batch for one epoch, reproducible from (seed, epoch) alone so a resumed run matches.

    With grouping: shuffle, cut into mega-batches of `megabatch` batches, sort each by length,
    cut into batches, then shuffle the batch order so length does not follow the LR schedule.
    """
    rng = random.Random(f"genleak-finetune:{seed}:{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if not group_by_length:
        return _chunks(order, batch_size)
    batches: list[list[int]] = []
    span = batch_size * megabatch
    for start in range(0, len(order), span):
        mega = sorted(order[start : start + span], key=lambda i: lengths[i], reverse=True)
        batches.extend(_chunks(mega, batch_size))
    rng.shuffle(batches)
    return batches


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def collate(sequences: Sequence[Sequence[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad to the longest sequence in the batch; labels are -100 exactly on the padding."""
    width = max(len(seq) for seq in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    labels = torch.full((len(sequences), width), IGNORE_INDEX, dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids = torch.tensor(seq, dtype=torch.long)
        input_ids[row, : len(seq)] = ids
        attention_mask[row, : len(seq)] = 1
        labels[row, : len(seq)] = ids
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
