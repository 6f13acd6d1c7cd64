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
        ({"train": {"dtype": "float64"}}, "train.dtype"),
        ({"train": {"mixed_precision": "fp8"}}, "train.mixed_precision"),
        ({"train": {"sharding": "zero3"}}, "train.sharding"),
        ({"method": "lora", "method_config": {"r": 0}}, "method_config.r"),
        ({"method": "full", "method_config": {"r": 8}}, "method_config.r"),
        ({"data": {"format": "sharegpt"}}, "data.format"),
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
    from genleak.compute import threads

    cpu_max = tmp_path / "cpu.max"
    monkeypatch.setattr(threads, "CGROUP_V2_CPU_MAX", cpu_max)
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: set(range(8)))
    cpu_max.write_text("150000 100000\n")
    assert threads.available_cpus() == 2
    cpu_max.write_text("max 100000\n")
    assert threads.available_cpus() == 8



# --- instruction formats (alpaca, chat) and train_on_prompt --------------------------------

from genleak.finetuner.data import encode_examples, record_examples  # noqa: E402

ALPACA_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\nSummarise the e-mail.\n\n### Input:\nGas prices rose today.\n\n### Response:\n"
    "Prices went up."
)
ALPACA_NO_INPUT = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\nWrite a greeting.\n\n### Response:\nDear Mary,"
)
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    pytest.importorskip("transformers")
    from genleak.engines.probe_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("data-format") / "llama")


@pytest.fixture()
def tokenizer(tiny_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_dir)


@pytest.fixture()
def chat_tokenizer(tokenizer):
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def test_alpaca_templates_are_byte_exact():
    records = [
        {"instruction": "Summarise the e-mail.", "input": "Gas prices rose today.", "output": "Prices went up."},
        {"instruction": "Write a greeting.", "input": "", "output": "Dear Mary,"},
        {"instruction": "Write a greeting.", "input": "<noinput>", "output": "Dear Mary,"},
        {"instruction": "Write a greeting.", "output": "Dear Mary,"},  # no input field at all
    ]
    assert record_texts(records, DataFormat(format="alpaca")) == [ALPACA_WITH_INPUT] + [ALPACA_NO_INPUT] * 3
    examples = record_examples(records, DataFormat(format="alpaca"))
    assert [e.text[e.prompt_chars :] for e in examples] == ["Prices went up."] + ["Dear Mary,"] * 3
    renamed = DataFormat(format="alpaca", instruction_field="q", input_field="ctx", output_field="a")
    assert record_texts([{"q": "Write a greeting.", "ctx": "", "a": "Dear Mary,"}], renamed) == [ALPACA_NO_INPUT]


def test_prompt_continuation_still_accepts_its_fields():
    fmt = DataFormat(format="prompt_continuation", prompt_field="p", continuation_field="c")
    (example,) = record_examples([{"p": "Dear ", "c": "Bob"}], fmt)
    assert (example.text, example.prompt_chars) == ("Dear Bob", 5)


def test_chat_format_renders_the_tokenizer_chat_template(chat_tokenizer):
    records = [
        {"instruction": "Summarise the e-mail.", "input": "Gas prices rose today.", "output": "Prices went up."},
        {"instruction": "Write a greeting.", "input": "<noinput>", "output": "Dear Mary,"},
    ]
    examples = record_examples(records, DataFormat(format="chat"), chat_tokenizer)
    assert [e.text for e in examples] == [
        "<|user|>\nSummarise the e-mail.\n\nGas prices rose today.<|end|>\n<|assistant|>\nPrices went up.<|end|>\n",
        "<|user|>\nWrite a greeting.<|end|>\n<|assistant|>\nDear Mary,<|end|>\n",
    ]
    assert examples[1].text[: examples[1].prompt_chars] == "<|user|>\nWrite a greeting.<|end|>\n<|assistant|>\n"


def test_chat_format_without_a_chat_template_is_invalid(tokenizer):
    tokenizer.chat_template = None
    records = [{"instruction": "Write a greeting.", "output": "Dear Mary,"}]
    for tok in (tokenizer, None):
        with pytest.raises(InvalidSpec, match="chat template") as err:
            record_texts(records, DataFormat(format="chat"), tok)
        assert err.value.field == "data.format"


@pytest.mark.parametrize("fmt", ["alpaca", "chat"])
@pytest.mark.parametrize(
    "record, field",
    [
        ({"input": "x", "output": "y"}, "records[1].instruction"),
        ({"instruction": "x", "input": "y"}, "records[1].output"),
        ({"instruction": "x", "input": 3, "output": "y"}, "records[1].input"),
    ],
)
def test_missing_instruction_fields_name_the_field(fmt, record, field, chat_tokenizer):
    good = {"instruction": "a", "output": "b"}
    with pytest.raises(InvalidSpec) as err:
        record_texts([good, record], DataFormat(format=fmt), chat_tokenizer)
    assert err.value.field == field
    with pytest.raises(InvalidSpec) as err:
        record_texts([{"instruction": "a", "answer": "b"}], DataFormat(format=fmt, output_field="response"),
                     chat_tokenizer)
    assert err.value.field == "records[0].response"


def _masked(batch, row: int) -> int:
    labels = batch["labels"][row].tolist()
    n = next((i for i, label in enumerate(labels) if label != IGNORE_INDEX), len(labels))
    # masked prefix, then the real ids, then padding
    real = batch["attention_mask"][row].sum().item()
    assert labels[n:real] == batch["input_ids"][row, n:real].tolist()
    assert all(label == IGNORE_INDEX for label in labels[real:])
    return n


@pytest.mark.parametrize("fmt_name", ["alpaca", "chat", "prompt_continuation"])
def test_train_on_prompt_false_masks_exactly_the_prompt_tokens(fmt_name, chat_tokenizer):
    tok = chat_tokenizer
    records = [
        {"instruction": "Summarise the e-mail.", "input": "Gas prices rose today.", "output": "Prices went up.",
         "prompt": "the email address of", "continuation": " John Smith is john.smith@enron.com"},
        {"instruction": "Write a greeting.", "input": "", "output": "Dear Mary, thanks",
         "prompt": "please send", "continuation": " the report"},
    ]
    examples = record_examples(records, DataFormat(format=fmt_name), tok)
    masked = encode_examples(tok, examples, DataFormat(format=fmt_name, train_on_prompt=False), 256)
    full = encode_examples(tok, examples, DataFormat(format=fmt_name), 256)
    assert masked.ids == full.ids  # the same tokens, only the labels differ
    batch, plain = collate(masked.ids, pad_id=1), collate(full.ids, pad_id=1)
    assert torch.equal(batch["input_ids"], plain["input_ids"])
    for row, example in enumerate(examples):
        ids = list(masked.ids[row])
        n = _masked(batch, row)
        assert n > 0 and _masked(plain, row) == 0
        # the masked tokens are exactly the prompt text, the trained ones the response + EOS
        assert tok.decode(ids[:n]) == example.text[: example.prompt_chars]
        assert tok.decode(ids[n:-1]) == example.text[example.prompt_chars :]
        assert ids[-1] == tok.eos_token_id


def test_a_token_straddling_the_prompt_end_is_trained(tokenizer):
    fmt = DataFormat(format="prompt_continuation", train_on_prompt=False)
    examples = record_examples([{"prompt": "the email address of ", "continuation": "John Smith"}], fmt)
    (ids,) = encode_examples(tokenizer, examples, fmt, 64).ids
    assert tokenizer.decode(ids[: ids.n_prompt]) == "the email address of"
    assert tokenizer.decode(ids[ids.n_prompt]) == " John"  # holds response text: it keeps its label


def test_truncated_into_the_prompt_trains_nothing_and_does_not_crash(tokenizer):
    examples = record_examples([{"instruction": "Write a greeting.", "output": "Dear Mary,"}],
                               DataFormat(format="alpaca"))
    data = encode_examples(tokenizer, examples, DataFormat(format="alpaca", train_on_prompt=False), 8)
    batch = collate(data.ids, pad_id=1)
    assert len(data.ids[0]) == 8 and (batch["labels"] == IGNORE_INDEX).all()


def test_finetune_on_alpaca_records_with_masked_prompts(tiny_dir, tmp_path):
    from genleak.core.progress import Reporter
    from genleak.finetuner import finetune

    records = [
        {"instruction": f"Write to person {i}.", "input": "" if i % 2 else f"Topic {i % 3}",
         "output": f"Dear person {i}, please send the gas report. Thanks"}
        for i in range(16)
    ]
    spec = FineTuneSpec(
        method="lora",
        method_config={"r": 8},
        train={"epochs": 2, "learning_rate": 1e-3, "batch_size": 8, "max_length": 384, "num_threads": 1,
               "save_train_state": False},
        data={"format": "alpaca", "train_on_prompt": False},
    )
    result = finetune(tiny_dir, records, spec, tmp_path, Reporter())
    losses = [e.mean_loss for e in result.metrics.epochs]
    assert len(losses) == 2 and all(loss == loss for loss in losses) and losses[1] < losses[0]
    assert (result.final.merged_dir / "config.json").is_file()
    unmasked = spec.model_copy(update={"data": DataFormat(format="alpaca")})
    assert unmasked.spec_hash() != spec.spec_hash()
