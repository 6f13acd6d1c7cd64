"""Finetuner core on real tiny models (GPT-NeoX, Llama): training, export, errors, cancel, resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

from genleak.contracts.finetune import FineTuneJobResult
from genleak.core.errors import Cancelled, InvalidSpec, ModelNotFound, UnsafeArtifact
from genleak.core.progress import Reporter
from genleak.finetuner import FineTuneSpec, finetune, get_method, method_names

NAMES = ["Alice Moore", "Bob Chen", "Carla Diaz", "Dan Evans", "Eve Franco", "Femi Ade", "Gus Hall"]
TOPICS = ["the budget", "the gas contract", "Monday's meeting", "the pipeline report", "travel plans"]


def make_records(n: int = 50) -> list[dict[str, str]]:
    records = []
    for i in range(n):
        name, topic = NAMES[i % len(NAMES)], TOPICS[i % len(TOPICS)]
        email = name.lower().replace(" ", ".") + "@enron.com"
        tail = " Thanks, and see you soon." * (i % 4)
        records.append({"text": f"Dear {name}, please write to {email} about {topic}.{tail}"})
    return records


def build_tiny_model(path: Path, arch: str) -> Path:
    """docs/platform.md, tiny test models: a BPE tokenizer trained here plus a random-init model, saved as safetensors."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = [r["text"] for r in make_records(200)]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=500,
        special_tokens=["<|endoftext|>", "<|pad|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus, trainer)
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        pad_token="<|pad|>",
    )
    common = {
        "vocab_size": 512,
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "max_position_embeddings": 256,
        "bos_token_id": 0,
        "eos_token_id": 0,
        "pad_token_id": 1,
    }
    if arch == "neox":
        config = transformers.GPTNeoXConfig(intermediate_size=128, rotary_pct=0.25, **common)
        model = transformers.GPTNeoXForCausalLM(config)
    else:
        config = transformers.LlamaConfig(intermediate_size=128, num_key_value_heads=2, **common)
        model = transformers.LlamaForCausalLM(config)
    model.save_pretrained(path)
    hf_tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def neox_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return build_tiny_model(tmp_path_factory.mktemp("neox"), "neox")


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return build_tiny_model(tmp_path_factory.mktemp("llama"), "llama")


def tiny_spec(method: str = "lora", epochs: int = 2, data: dict | None = None, **train) -> FineTuneSpec:
    config = {} if method == "full" else {"r": 8}
    return FineTuneSpec(
        method=method,
        method_config=config,
        # one thread: these CPUs are shared, and tiny ops gain nothing from a second OpenMP thread
        train={"epochs": epochs, "learning_rate": 1e-3, "batch_size": 8, "max_length": 128, "num_threads": 1, **train},
        data=data or {},
    )


@pytest.fixture(scope="module")
def lora_run(neox_dir, tmp_path_factory):
    steps = []
    reporter = Reporter(lambda stage, done, total, msg: steps.append((stage, done, total, msg)))
    result = finetune(neox_dir, make_records(), tiny_spec(), tmp_path_factory.mktemp("lora-out"), reporter)
    return result, steps


def logits(model, ids: torch.Tensor) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(input_ids=ids).logits


def sample_ids(model_dir: Path) -> torch.Tensor:
    tok = transformers.AutoTokenizer.from_pretrained(model_dir)
    return tok(["Dear Carla Diaz, please write to carla.diaz@enron.com"], return_tensors="pt")["input_ids"]


def assert_adapter_matches_merged(model_dir: Path, adapter_dir: Path, merged_dir: Path) -> None:
    base = transformers.AutoModelForCausalLM.from_pretrained(model_dir)
    with_adapter = peft.PeftModel.from_pretrained(base, adapter_dir)
    merged = transformers.AutoModelForCausalLM.from_pretrained(merged_dir, use_safetensors=True)
    ids = sample_ids(model_dir)
    assert (logits(with_adapter, ids) - logits(merged, ids)).abs().max().item() < 1e-4


def test_lora_loss_decreases_and_progress_is_reported(lora_run):
    result, steps = lora_run
    losses = [e.mean_loss for e in result.metrics.epochs]
    assert len(losses) == 2 and losses[1] < losses[0]
    step_losses = result.metrics.epochs[0].step_losses + result.metrics.epochs[1].step_losses
    assert step_losses[-1] < step_losses[0]
    total = steps[-1][2]
    assert [s[1] for s in steps] == list(range(1, total + 1))
    assert all(s[0] == "train" for s in steps) and "epoch 2/2" in steps[-1][3]


def test_lora_writes_peft_adapters_and_merged_models_per_epoch(lora_run, neox_dir):
    result, _ = lora_run
    assert [c.epoch for c in result.checkpoints] == [1, 2]
    for ckpt in result.checkpoints:
        assert ckpt.path.name == f"epoch-{ckpt.epoch}"
        assert {"adapter_model.safetensors", "adapter_config.json"} <= {p.name for p in ckpt.adapter_dir.iterdir()}
        assert json.loads((ckpt.adapter_dir / "adapter_config.json").read_text())["r"] == 8
        assert {"model.safetensors", "config.json", "tokenizer.json"} <= {p.name for p in ckpt.merged_dir.iterdir()}
    assert not [p for p in result.out_dir.rglob("*") if p.suffix in (".bin", ".pt", ".pth", ".pkl")]
    final = result.final
    assert_adapter_matches_merged(neox_dir, final.adapter_dir, final.merged_dir)
    merged = transformers.AutoModelForCausalLM.from_pretrained(final.merged_dir)
    assert type(merged).__name__ == "GPTNeoXForCausalLM"
    transformers.AutoTokenizer.from_pretrained(final.merged_dir)


def test_metrics_json_reports_throughput_and_padding(lora_run):
    result, _ = lora_run
    data = json.loads(result.metrics_path.read_text())
    summary = data["summary"]
    assert summary["useful_tokens_per_s"] > 0 and summary["wall_s"] > 0
    assert summary["useful_tokens"] <= summary["padded_tokens"] < summary["pad_to_max_tokens"]
    assert summary["useful_fraction"] > 0.8  # length grouping keeps padding small
    assert [e["epoch"] for e in data["epochs"]] == [1, 2] and data["spec_hash"] == result.spec_hash
    assert data["compute"] == result.compute.model_dump(mode="json")


def test_the_run_records_what_computed_where(lora_run):
    """No GPU here: the CPU, in the spec's float32, at the run's useful tokens per second."""
    result, _ = lora_run
    compute = result.compute
    assert compute.device_type == "cpu" and compute.device_name and compute.device_count == 1
    assert compute.precision == "float32" and compute.peak_memory_bytes > 0
    assert compute.tokens_per_second == round(result.metrics.summary()["useful_tokens_per_s"], 1) > 0
    assert {"torch", "transformers", "peft", "accelerate"} <= set(compute.versions)
    job = FineTuneJobResult.model_validate({**result.metrics.to_json(), "compute": compute})
    assert job.model_dump(mode="json")["compute"]["device_type"] == "cpu"


def test_an_explicit_device_is_where_training_runs(neox_dir, tmp_path):
    result = finetune(neox_dir, make_records(16), tiny_spec(epochs=1), tmp_path, Reporter(), device="cpu")
    assert result.compute.device_type == "cpu"
    with pytest.raises(InvalidSpec) as err:  # a GPU that is not there is refused before anything loads
        finetune(neox_dir, make_records(16), tiny_spec(epochs=1), tmp_path / "gpu", Reporter(),
                 device=f"cuda:{torch.cuda.device_count()}")
    assert err.value.field == "device"


@pytest.mark.parametrize("method", method_names())
def test_every_method_trains_one_epoch_and_exports_a_loadable_model(method, llama_dir, tmp_path):
    result = finetune(llama_dir, make_records(24), tiny_spec(method, epochs=1), tmp_path, Reporter())
    final = result.final
    merged = transformers.AutoModelForCausalLM.from_pretrained(final.merged_dir, use_safetensors=True)
    assert type(merged).__name__ == "LlamaForCausalLM"
    assert torch.isfinite(logits(merged, sample_ids(llama_dir))).all()
    if final.adapter_dir is None:
        assert method == "full" and not (final.path / "adapter").exists()
    else:
        assert_adapter_matches_merged(llama_dir, final.adapter_dir, final.merged_dir)


def test_bfloat16_run_with_grad_accum_and_warmup(llama_dir, tmp_path):
    steps = []
    spec = tiny_spec(epochs=2, dtype="bfloat16", grad_accum=2, warmup_ratio=0.3)
    result = finetune(llama_dir, make_records(), spec, tmp_path, Reporter(lambda *a: steps.append(a[1:3])))
    batches = -(-50 // 8)  # 50 texts of near-equal length: one mega-batch, 7 batches
    assert steps[-1] == (2 * -(-batches // 2), 2 * -(-batches // 2))
    merged = transformers.AutoModelForCausalLM.from_pretrained(result.final.merged_dir)
    assert merged.dtype == torch.bfloat16 and result.compute.precision == "bfloat16"
    assert all(torch.isfinite(torch.tensor(e.step_losses)).all() for e in result.metrics.epochs)


@pytest.mark.parametrize("method", ["lora", "full"])
def test_gradient_checkpointing_gives_the_same_training(method, llama_dir, tmp_path):
    """Recomputed activations, the same gradients: losses and merged weights equal a plain run's."""
    plain = finetune(llama_dir, make_records(24), tiny_spec(method, epochs=1), tmp_path / "plain", Reporter())
    recomputed = finetune(llama_dir, make_records(24), tiny_spec(method, epochs=1, gradient_checkpointing=True),
                          tmp_path / "ckpt", Reporter())
    np.testing.assert_allclose(recomputed.metrics.epochs[0].step_losses, plain.metrics.epochs[0].step_losses,
                               rtol=1e-5)
    a, b = (transformers.AutoModelForCausalLM.from_pretrained(r.final.merged_dir) for r in (plain, recomputed))
    ids = sample_ids(llama_dir)
    assert (logits(a, ids) - logits(b, ids)).abs().max().item() < 1e-4


def test_prompt_continuation_format_and_bad_records(neox_dir, tmp_path):
    records = [{"prompt": f"Contact {n} at ", "continuation": n.split()[0].lower() + "@enron.com"} for n in NAMES]
    spec = tiny_spec(epochs=1, data={"format": "prompt_continuation"})
    assert finetune(neox_dir, records, spec, tmp_path / "ok", Reporter()).metrics.n_examples == len(NAMES)
    with pytest.raises(InvalidSpec) as err:
        finetune(neox_dir, [{"text": "no prompt"}], spec, tmp_path / "bad", Reporter())
    assert err.value.field == "records[0].prompt"


def test_cancel_stops_training_and_leaves_no_complete_looking_epoch(neox_dir, tmp_path):
    reporter = Reporter()

    def cancel_at_step_3(stage, done, total, message):
        if done == 3:
            reporter.cancel()

    reporter._callback = cancel_at_step_3
    with pytest.raises(Cancelled):
        finetune(neox_dir, make_records(), tiny_spec(), tmp_path, reporter)
    assert not list(tmp_path.glob("epoch-*")) and not (tmp_path / "metrics.json").exists()


def test_interrupted_run_resumes_to_the_same_adapter(neox_dir, lora_run, tmp_path):
    reporter = Reporter()
    state = {}

    def cancel_in_epoch_2(stage, done, total, message):
        state.setdefault("per_epoch", total // 2)
        if done == state["per_epoch"] + 1:
            reporter.cancel()

    reporter._callback = cancel_in_epoch_2
    with pytest.raises(Cancelled):
        finetune(neox_dir, make_records(), tiny_spec(), tmp_path, reporter)
    assert [p.name for p in tmp_path.glob("epoch-*")] == ["epoch-1"]

    resumed = finetune(neox_dir, make_records(), tiny_spec(), tmp_path, Reporter())
    assert [c.resumed for c in resumed.checkpoints] == [True, False]
    reference = lora_run[0].final.adapter_dir / "adapter_model.safetensors"
    from safetensors.torch import load_file

    expected, got = load_file(reference), load_file(resumed.final.adapter_dir / "adapter_model.safetensors")
    assert max((expected[k] - got[k]).abs().max().item() for k in expected) < 1e-6

    again = finetune(neox_dir, make_records(), tiny_spec(), tmp_path, Reporter())
    assert all(c.resumed for c in again.checkpoints)
    assert again.compute.device_type == "cpu" and again.compute.tokens_per_second is None  # nothing trained


def test_out_dir_of_another_run_is_refused(lora_run, neox_dir):
    with pytest.raises(InvalidSpec) as err:
        finetune(neox_dir, make_records(10), tiny_spec(), lora_run[0].out_dir, Reporter())
    assert err.value.field == "out_dir"


def test_pickle_only_model_folder_is_refused(neox_dir, tmp_path):
    bad = tmp_path / "pickled"
    bad.mkdir()
    (bad / "config.json").write_text((neox_dir / "config.json").read_text())
    (bad / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(UnsafeArtifact):
        finetune(bad, make_records(), tiny_spec(), tmp_path / "out", Reporter())


def test_missing_model_folder_names_the_path(tmp_path):
    with pytest.raises(ModelNotFound, match="nowhere"):
        finetune(tmp_path / "nowhere", make_records(), tiny_spec(), tmp_path / "out", Reporter())


def test_bf16_mixed_precision_trains_float32_weights_and_says_so(llama_dir, tmp_path):
    result = finetune(llama_dir, make_records(24), tiny_spec(epochs=1, mixed_precision="bf16"), tmp_path, Reporter())
    plain = finetune(llama_dir, make_records(24), tiny_spec(epochs=1), tmp_path / "plain", Reporter())
    mixed_losses, plain_losses = result.metrics.epochs[0].step_losses, plain.metrics.epochs[0].step_losses
    assert mixed_losses != plain_losses  # the forward pass really ran in bfloat16 ...
    np.testing.assert_allclose(mixed_losses, plain_losses, rtol=2e-2)  # ... and trains the same model
    assert result.compute.precision == "bf16 mixed precision over float32 weights"
    merged = transformers.AutoModelForCausalLM.from_pretrained(result.final.merged_dir)
    assert merged.dtype == torch.float32


def test_fp16_mixed_precision_is_refused_on_a_cpu_before_anything_loads(llama_dir, tmp_path, monkeypatch):
    monkeypatch.setattr("genleak.finetuner.train.load_base_model", _must_not_load)
    with pytest.raises(InvalidSpec) as err:
        finetune(llama_dir, make_records(8), tiny_spec(epochs=1, mixed_precision="fp16"), tmp_path, Reporter())
    assert err.value.field == "train.mixed_precision" and "GPU" in str(err.value)


def test_a_float16_base_trains_float32_adapters(llama_dir, tmp_path):
    result = finetune(llama_dir, make_records(24), tiny_spec(epochs=1, dtype="float16"), tmp_path, Reporter())
    adapter = peft.PeftModel.from_pretrained(
        transformers.AutoModelForCausalLM.from_pretrained(llama_dir, dtype=torch.float16), result.final.adapter_dir)
    assert {p.dtype for n, p in adapter.named_parameters() if "lora_" in n} == {torch.float32}
    assert all(np.isfinite(result.metrics.epochs[0].step_losses)) and result.compute.precision == "float16"
    with pytest.raises(ValueError, match="mixed_precision: fp16"):  # full fine-tuning would lose small updates
        tiny_spec("full", epochs=1, dtype="float16")


def test_a_run_that_cannot_fit_is_refused_naming_its_memory(llama_dir, tmp_path, monkeypatch):
    monkeypatch.setattr("genleak.finetuner.memory.device_capacity", lambda device: 64 << 10)
    monkeypatch.setattr("genleak.finetuner.train.load_base_model", _must_not_load)
    with pytest.raises(InvalidSpec) as err:
        finetune(llama_dir, make_records(24), tiny_spec("full", epochs=1), tmp_path, Reporter())
    message = str(err.value)
    assert err.value.field == "train" and "cannot fit on cpu" in message
    for part in ("weights", "gradients + AdamW state", "activations", "micro-batch 8 x", "gradient_checkpointing"):
        assert part in message
    assert not list(tmp_path.glob("epoch-*"))


@pytest.mark.parametrize("method", method_names())
def test_the_memory_bound_counts_exactly_the_parameters_training_holds(method, llama_dir, tmp_path):
    from genleak.finetuner.memory import estimate_memory, meta_model

    spec = tiny_spec(method, epochs=1)
    plugin = spec.plugin()
    real = plugin.build(spec.method_config).wrap(transformers.AutoModelForCausalLM.from_pretrained(llama_dir), tmp_path)
    meta = meta_model(llama_dir, torch.float32, False, plugin.build(spec.method_config))
    bound = estimate_memory(meta, spec.train, rows=8, width=64)
    assert bound.total_params == sum(p.numel() for p in real.parameters())
    assert bound.trainable_params == sum(p.numel() for p in real.parameters() if p.requires_grad)
    checkpointed = estimate_memory(meta, spec.train.model_copy(update={"gradient_checkpointing": True}), 8, 64)
    assert checkpointed.activation_bytes < bound.activation_bytes


def _must_not_load(*args, **kwargs):
    raise AssertionError("the base model was loaded although the run was refused")


def test_the_memory_bound_counts_a_tied_output_head_once(tmp_path):
    from genleak.finetuner.memory import meta_model

    config = transformers.LlamaConfig(vocab_size=512, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                      intermediate_size=128, tie_word_embeddings=True)
    transformers.LlamaForCausalLM(config).save_pretrained(tmp_path)
    real = transformers.AutoModelForCausalLM.from_pretrained(tmp_path)
    meta = meta_model(tmp_path, torch.float32, False, get_method("full").build({}))
    assert sum(p.numel() for p in meta.parameters()) == sum(p.numel() for p in real.parameters())


@pytest.mark.parametrize("method, train, message", [
    ("lora", {"sharding": "fsdp"}, "sharding fsdp shards full fine-tuning"),
    ("full", {"sharding": "fsdp", "mixed_precision": "fp16"}, "bf16 or no"),
])
def test_sharding_is_for_full_fine_tuning_without_fp16(method, train, message):
    with pytest.raises(ValueError, match=message):
        tiny_spec(method, epochs=1, **train)
