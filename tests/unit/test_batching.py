"""The one batching/padding helper (genleak.compute.batching) shared by the lab's pretraining, the
finetuner and the MIA scorer: length grouping, right padding, causal LM labels."""

from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")

from genleak.compute.batching import IGNORE_INDEX, causal_lm_batch, chunks, length_grouped, pad_right  # noqa: E402


def test_chunks_keep_the_order_and_cut_the_last_one_short():
    assert chunks([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    assert chunks([], 3) == []


def test_length_grouped_sorts_each_mega_batch_longest_first_and_covers_every_index():
    rng = random.Random(0)
    lengths = [rng.randint(1, 50) for _ in range(103)]
    order = list(range(103))
    rng.shuffle(order)
    batches = length_grouped(order, lengths, batch_size=4, megabatch=5)
    assert sorted(i for batch in batches for i in batch) == list(range(103))
    assert [len(b) for b in batches] == [4] * 25 + [3]
    for start in range(0, 103, 20):  # each mega-batch: its own indices, longest first, ties in order
        mega = [i for batch in batches[start // 4 : start // 4 + 5] for i in batch]
        assert mega == sorted(order[start : start + 20], key=lambda i: lengths[i], reverse=True)


def test_pad_right_masks_the_padding():
    input_ids, attention_mask = pad_right([[5, 6, 7], [8]], pad_id=0)
    assert input_ids.dtype == attention_mask.dtype == torch.long
    assert input_ids.tolist() == [[5, 6, 7], [8, 0, 0]] and attention_mask.tolist() == [[1, 1, 1], [1, 0, 0]]


def test_causal_lm_labels_ignore_padding_by_position_and_an_optional_prompt():
    eos = pad = 0  # pad id == eos id: the real EOS keeps its label
    batch = causal_lm_batch([[5, 6, 7, eos], [8, eos]], pad_id=pad)
    assert batch["labels"].tolist() == [[5, 6, 7, eos], [8, eos, IGNORE_INDEX, IGNORE_INDEX]]
    batch = causal_lm_batch([[5, 6, 7, eos], [8, eos]], pad_id=pad, no_loss_prefix=[2, 0])
    assert batch["labels"].tolist() == [[IGNORE_INDEX, IGNORE_INDEX, 7, eos], [8, eos, IGNORE_INDEX, IGNORE_INDEX]]
    assert batch["input_ids"].tolist() == [[5, 6, 7, eos], [8, eos, pad, pad]]
