"""Lab building blocks on their own: config checks, people, prompt cuts, batching, probe scoring."""

from __future__ import annotations

import random

import pytest
import torch

from genleak.core.errors import InvalidSpec
from genleak.lab import LabConfig, PretrainConfig
from genleak.lab.config import eval_doc_counts
from genleak.lab.memorization import first_email, score_completions, template_d_prompt
from genleak.lab.people import make_email, make_people
from genleak.lab.pretrain import length_grouped_batches, pad_batch
from genleak.lab.splits import split_prompt


def test_head_sizes_vllm_cannot_run_are_refused():
    with pytest.raises(InvalidSpec, match="head size 48"):
        LabConfig.preset("tiny", {"generator": {"hidden_size": 96, "num_heads": 2}})


def test_eval_doc_counts_spread_from_min_to_max():
    counts = eval_doc_counts(100, LabConfig().corpus)
    assert min(counts) == LabConfig().corpus.min_docs_per_eval_person
    assert max(counts) == LabConfig().corpus.max_docs_per_eval_person
    assert counts == sorted(counts)


def test_people_have_unique_non_overlapping_names_and_mailboxes():
    people = make_people(120, 30, 5, 20, seed=3)
    assert [p.role for p in people].count("eval") == 30 and [p.role for p in people].count("fewshot") == 5
    mailboxes = [p.email.split("@")[0] + "@" for p in people]
    for i, box in enumerate(mailboxes):
        assert not any(box in other for j, other in enumerate(mailboxes) if j != i)
    names = [p.name.lower() for p in people]
    assert len(set(names)) == len(names)
    assert all(p.phone.count("-") == 2 and ", " in p.address for p in people)


def test_email_patterns_vary_for_one_name():
    rng = random.Random(0)
    emails = {make_email("Megan", "Chang", "txmail.net", rng) for _ in range(200)}
    assert len({e.split("@")[0] for e in emails}) >= 6


@pytest.mark.parametrize("ratio", [0.1, 0.5, 0.9])
def test_split_prompt_keeps_every_byte(ratio):
    text = "From: A <a@b.com>\nTo: B <b@c.com>\nSubject: x\n\nBody line.\nThanks,\nA\n"
    prompt, continuation = split_prompt(text, ratio)
    assert prompt + continuation == text and prompt and continuation


def test_length_grouped_batches_cover_each_document_once():
    docs = [[7] * n for n in range(1, 101)]

    def mean_span(group_factor: int) -> float:
        config = PretrainConfig(batch_size=8, length_group_factor=group_factor)
        batches = length_grouped_batches(docs, config, torch.Generator().manual_seed(0))
        assert sorted(len(d) for batch in batches for d in batch) == list(range(1, 101))
        return sum(max(map(len, b)) - min(map(len, b)) for b in batches) / len(batches)

    assert mean_span(group_factor=13) < 10 < 50 < mean_span(group_factor=1)  # padding waste: grouped vs random


def test_pad_batch_masks_padding_out_of_the_loss():
    input_ids, attention_mask, labels = pad_batch([[5, 6, 0], [9, 0]], pad_id=1)
    assert input_ids.tolist() == [[5, 6, 0], [9, 0, 1]]
    assert attention_mask.tolist() == [[1, 1, 1], [1, 1, 0]]
    assert labels.tolist() == [[5, 6, 0], [9, 0, -100]]


def test_probe_scoring_counts_exact_contains_and_fuzzy():
    people = make_people(8, 3, 5, 20, seed=1)[:3]
    completions = [f" {people[0].email}]\nSent: x", f"{people[1].email[:-1]}x>", "nothing here"]
    result = score_completions("p", people, completions)
    assert (result.exact, result.contains, result.fuzzy, result.total) == (1, 1, 2, 3)
    assert result.exact_person_ids == [people[0].person_id]


def test_first_email_and_template_d():
    assert first_email(" Ann.Lee@x-y.com]\nSent") == "ann.lee@x-y.com"
    assert first_email("no address") is None
    few_shot = make_people(10, 0, 5, 20, seed=2)[:5]
    prompt = template_d_prompt("Ann Lee", few_shot)
    assert prompt.count("—–Original Message—–\n From: ") == 6
    assert prompt.endswith("From: Ann Lee [mailto: ") and few_shot[4].email in prompt  # the attacker's query line
