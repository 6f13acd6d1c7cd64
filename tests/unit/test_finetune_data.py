"""Finetuner data path and specs: record formats, batching, collation, validation (no model)."""

from __future__ import annotations

import pytest
from genleak.core.errors import InvalidSpec
from genleak.core.specs import parse_spec
from genleak.finetuner import DataFormat, FineTuneSpec, TrainConfig, get_method, method_names

torch = pytest.importorskip("torch")

from genleak.finetuner.data import IGNORE_INDEX, batch_order, collate, record_texts, select_records


def test_collator_pads_to_batch_max_and_masks_only_padding():
    eos = pad = 0  # the paper's setup: pad id == eos id
    batch = collate([[5, 6, 7, eos], [8, eos]], pad_id=pad)
    assert batch["input_ids"].shape == (2, 4)
    assert batch["input_ids"][1].tolist() == [8, eos, pad, pad]
    assert batch["attention_mask"][1].tolist() == [1, 1, 0, 0]
    assert batch["labels"][1].tolist() == [8, eos, IGNORE_INDEX, IGNORE_INDEX]  # the real EOS keeps its label
    assert batch["labels"][0].tolist() == [5, 6, 7, eos]


def test_batch_order_is_a_seeded_permutation():
    lengths = [3 + (i * 7) % 40 for i in range(101)]
    first = batch_order(lengths, 8, seed=1, epoch=1, megabatch=4)
    assert sorted(i for b in first for i in b) == list(range(101))
    assert first == batch_order(lengths, 8, seed=1, epoch=1, megabatch=4)
    assert first != batch_order(lengths, 8, seed=1, epoch=2, megabatch=4)


def test_length_grouping_cuts_padding():
    lengths = [3 + (i * 37) % 200 for i in range(400)]

    def padded(batches):
        return sum(len(b) * max(lengths[i] for i in b) for b in batches)

    grouped = padded(batch_order(lengths, 8, seed=0, epoch=1, group_by_length=True))
    plain = padded(batch_order(lengths, 8, seed=0, epoch=1, group_by_length=False))
    assert sum(lengths) / grouped > 0.9 > sum(lengths) / plain


def test_record_formats_and_last_n():
    records = [{"prompt": f"p{i} ", "continuation": f"c{i}", "text": f"t{i}"} for i in range(5)]
    assert record_texts(select_records(records, 2), DataFormat()) == ["t3", "t4"]
    fmt = DataFormat(format="prompt_continuation")
    assert record_texts(records[:1], fmt) == ["p0 c0"]


def test_missing_record_field_names_it():
    with pytest.raises(InvalidSpec) as err:
        record_texts([{"text": "a"}, {"body": "b"}], DataFormat())
    assert err.value.field == "records[1].text"


def test_unknown_method_lists_valid_ones():
    with pytest.raises(InvalidSpec) as err:
        parse_spec(FineTuneSpec, {"method": "qlora"})
    assert err.value.field == "method"
    for name in ("lora", "dora", "pissa", "full"):
        assert name in str(err.value)


def test_nested_spec_errors_name_the_full_path():
    from genleak.core.specs import Spec

    class JobSpec(Spec):
        finetune: FineTuneSpec

    for data, field in [
        ({"method": "qlora"}, "finetune.method"),
        ({"method_config": {"alpha": 3}}, "finetune.method_config.alpha"),
        ({"train": {"learning_rate": -1}}, "finetune.train.learning_rate"),
    ]:
        with pytest.raises(InvalidSpec) as err:
            parse_spec(JobSpec, {"finetune": data})
        assert err.value.field == field


@pytest.mark.parametrize(
    "data, field",
    [
        ({"train": {"learning_rate": -1e-4}}, "train.learning_rate"),
        ({"train": {"epochs": 0}}, "train.epochs"),
        ({"train": {"dtype": "float16"}}, "train.dtype"),
        ({"method": "lora", "method_config": {"r": 0}}, "method_config.r"),
        ({"method": "full", "method_config": {"r": 8}}, "method_config.r"),
        ({"data": {"format": "chat"}}, "data.format"),
    ],
)
def test_invalid_fields_are_named(data, field):
    with pytest.raises(InvalidSpec) as err:
        parse_spec(FineTuneSpec, data)
    assert err.value.field == field


def test_spec_defaults_follow_the_paper():
    spec = parse_spec(FineTuneSpec, {})
    assert spec.method == "lora"
    assert spec.method_config == {
        "r": 64,
        "lora_alpha": 16,
        "lora_dropout": 0.05,
        "target_modules": "all-linear",
        "bias": "none",
    }
    assert (spec.train.epochs, spec.train.learning_rate, spec.train.seed, spec.train.max_length) == (
        4,
        2e-6,
        3407,
        2048,
    )
    pissa = parse_spec(FineTuneSpec, {"method": "pissa"})
    assert pissa.method_config["lora_dropout"] == 0.0
    # method defaults are part of the identity of the run
    assert spec.spec_hash() == parse_spec(FineTuneSpec, {"method_config": {"r": 64}}).spec_hash()
    assert spec.spec_hash() != parse_spec(FineTuneSpec, {"method_config": {"r": 8}}).spec_hash()


@pytest.mark.parametrize("name", method_names())
def test_every_method_config_is_fully_described(name):
    config_cls = get_method(name).config_cls
    config_cls()  # every hyper-parameter has a default
    for field_name, info in config_cls.model_fields.items():
        assert info.description, f"{name}.{field_name} has no description"


def test_every_train_field_is_described():
    for cls in (TrainConfig, DataFormat):
        for field_name, info in cls.model_fields.items():
            assert info.description, f"{cls.__name__}.{field_name} has no description"


def test_thread_count_follows_the_cgroup_quota(tmp_path, monkeypatch):
    from genleak.finetuner import threads

    cpu_max = tmp_path / "cpu.max"
    monkeypatch.setattr(threads, "CGROUP_V2_CPU_MAX", cpu_max)
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: set(range(8)))
    cpu_max.write_text("150000 100000\n")
    assert threads.available_cpus() == 2
    cpu_max.write_text("max 100000\n")
    assert threads.available_cpus() == 8
