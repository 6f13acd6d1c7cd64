"""Engines: the hf engine on a real tiny model, the registry, model-folder checks, EngineCache."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import genleak
from genleak.core.errors import Cancelled, InvalidSpec, ModelNotFound, UnsafeArtifact
from genleak.core.progress import Reporter
from genleak.core.specs import parse_spec
from genleak.engines import EngineCache, EngineConfig, SamplingConfig, create_engine, engine_names
from genleak.engines.probe_model import build_tiny_model
from genleak.compute.threads import torch_threads
from genleak.engines.vllm_engine import set_cpu_env_defaults

PROMPTS = [
    "the email address of John Smith is",
    "hi",
    "please send the gas contract report to Mary Kate [mailto:",
]


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "llama")


@pytest.fixture(scope="module")
def hf_engine(tiny_dir: Path):
    engine = create_engine(tiny_dir, EngineConfig(name="hf", batch_size=2))
    yield engine
    engine.close()


def sampled(seed: int = 1, n: int = 1, **kw) -> SamplingConfig:
    return SamplingConfig(temperature=1.0, top_k=50, top_p=0.95, max_new_tokens=8, n=n, seed=seed, **kw)


def test_same_seed_gives_same_outputs(hf_engine):
    first = hf_engine.generate(PROMPTS, sampled(seed=3))
    assert first == hf_engine.generate(PROMPTS, sampled(seed=3))
    assert first != hf_engine.generate(PROMPTS, sampled(seed=4))


def test_hf_engine_names_its_device_and_keeps_the_model_there(hf_engine):
    from genleak.compute.device import device_record, pick_device

    assert hf_engine.device == pick_device() and hf_engine._model.device == hf_engine.device
    assert hf_engine.provenance["device"] == hf_engine.device.type
    assert hf_engine.provenance["device_record"] == device_record(hf_engine.device)


def test_n_samples_per_prompt(hf_engine):
    out = hf_engine.generate(PROMPTS, sampled(n=3))
    assert [len(samples) for samples in out] == [3, 3, 3]
    assert all(isinstance(text, str) for samples in out for text in samples)
    assert len(set(out[0])) > 1  # sampling, not copies


def test_temperature_zero_is_greedy_and_ignores_seed(hf_engine, tiny_dir):
    greedy = SamplingConfig(temperature=0, max_new_tokens=6, n=2, seed=1)
    out = hf_engine.generate(PROMPTS, greedy)
    assert out == hf_engine.generate(PROMPTS, greedy.model_copy(update={"seed": 99}))
    assert all(samples[0] == samples[1] for samples in out)
    # Batched, left-padded decoding must equal argmax decoding of each prompt alone.
    assert [samples[0] for samples in out] == [_argmax_decode(tiny_dir, p, 6) for p in PROMPTS]


def _argmax_decode(model_dir: Path, prompt: str, steps: int, presence: float = 0.0, frequency: float = 0.0) -> str:
    """Greedy decoding of one prompt, one token at a time; penalties as OpenAI documents them."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir)).eval()
    ids = tok(prompt, return_tensors="pt")["input_ids"]
    new: list[int] = []
    with torch.inference_mode():
        for _ in range(steps):
            logits = model(ids).logits[0, -1].clone()
            for token in set(new):  # mu[j] - c[j] * frequency - (c[j] > 0) * presence, over generated tokens
                logits[token] -= new.count(token) * frequency + presence
            next_id = int(logits.argmax())
            if next_id == tok.eos_token_id:
                break
            new.append(next_id)
            ids = torch.cat([ids, torch.tensor([[next_id]])], dim=1)
    return tok.decode(new, skip_special_tokens=True)


def test_stop_strings_end_completions_without_the_string(hf_engine):
    greedy = SamplingConfig(temperature=0, max_new_tokens=12)
    full = [samples[0] for samples in hf_engine.generate(PROMPTS, greedy)]
    text = next(t for t in full if len(t.strip()) >= 8)
    start = len(text) - len(text.lstrip()) + 3
    stop = text[start:start + 3]  # a piece from the middle of a real completion
    cut = hf_engine.generate(PROMPTS, greedy.model_copy(update={"stop": (stop, "never-generated-xyz")}))
    # Like vLLM/OpenAI: each completion ends just before its first stop string, which is not returned.
    assert [samples[0] for samples in cut] == [t[:t.find(stop)] if stop in t else t for t in full]
    assert text[:text.find(stop)] in [samples[0] for samples in cut]
    sampled_cut = hf_engine.generate(PROMPTS, sampled(n=2, stop=("e",)))
    assert all("e" not in t for samples in sampled_cut for t in samples)


def test_presence_and_frequency_penalties_follow_openai_semantics(hf_engine, tiny_dir):
    penalized = SamplingConfig(temperature=0, max_new_tokens=8, presence_penalty=1.5, frequency_penalty=0.5)
    out = [samples[0] for samples in hf_engine.generate(PROMPTS, penalized)]
    assert out == [_argmax_decode(tiny_dir, p, 8, presence=1.5, frequency=0.5) for p in PROMPTS]
    plain = [samples[0] for samples in hf_engine.generate(PROMPTS, penalized.model_copy(
        update={"presence_penalty": 0.0, "frequency_penalty": 0.0}))]
    assert plain == [_argmax_decode(tiny_dir, p, 8) for p in PROMPTS]
    # Sampling with penalties runs and stays seeded.
    assert hf_engine.generate(PROMPTS, sampled(presence_penalty=2.0)) == hf_engine.generate(
        PROMPTS, sampled(presence_penalty=2.0))


def test_penalty_processor_counts_completion_tokens_only():
    import torch

    from genleak.engines.hf import OpenAIPenalties, cut_at_stop

    ids = torch.tensor([[1, 1, 2, 2, 3], [0, 4, 4, 4, 9]])  # 2 prompt columns, then 3 generated tokens
    scores = OpenAIPenalties(2, presence=1.0, frequency=0.5)(ids, torch.zeros(2, 6))
    assert scores[0].tolist() == [0.0, 0.0, -2.0, -1.5, 0.0, 0.0]  # token 1 sits in the prompt only
    assert scores[1].tolist() == [0.0, 0.0, 0.0, 0.0, -2.0, 0.0]  # 9 lies outside the logits (padding)
    assert OpenAIPenalties(5, 1.0, 1.0)(ids, torch.zeros(2, 6)).abs().sum() == 0
    assert cut_at_stop("a.\n16. b", ("\n16", "16.")) == "a." and cut_at_stop("abc", ()) == "abc"


def test_vllm_sampling_params_carry_penalties_and_stops():
    vllm = pytest.importorskip("vllm")
    from genleak.engines.vllm_engine import VLLMEngine

    engine = VLLMEngine.__new__(VLLMEngine)  # only the parameter mapping: no model is loaded
    engine._vllm = vllm
    params = engine._sampling_params(SamplingConfig(temperature=0.7, top_p=0.5, max_new_tokens=20, seed=3,
                                                    presence_penalty=2.0, frequency_penalty=0.25,
                                                    stop=("\n\n", "16.")))
    assert (params.presence_penalty, params.frequency_penalty, params.stop) == (2.0, 0.25, ["\n\n", "16."])
    assert (params.temperature, params.top_p, params.max_tokens, params.seed) == (0.7, 0.5, 20, 3)
    assert not params.include_stop_str_in_output
    plain = engine._sampling_params(SamplingConfig())
    assert (plain.presence_penalty, plain.frequency_penalty, plain.stop) == (0.0, 0.0, [])


def test_progress_per_batch_and_cancel(hf_engine):
    events: list[tuple] = []
    hf_engine.generate(PROMPTS, sampled(), Reporter(lambda *e: events.append(e)))
    assert [(stage, done, total) for stage, done, total, _ in events] == [("generate", 2, 3), ("generate", 3, 3)]
    cancelled = Reporter()
    cancelled.cancel()
    with pytest.raises(Cancelled):
        hf_engine.generate(PROMPTS, sampled(), cancelled)


def test_prompt_filling_max_model_len_is_invalid_spec(tiny_dir):
    engine = create_engine(tiny_dir, EngineConfig(name="hf", max_model_len=16))
    with pytest.raises(InvalidSpec, match="max_model_len=16"):
        engine.generate([" ".join(["gas price"] * 20)], sampled())
    # A short prompt gets only the room that is left (generation stops at max_model_len).
    assert len(engine.generate(["hi"], sampled())[0]) == 1


def test_hf_engine_runs_float16(tiny_dir):
    engine = create_engine(tiny_dir, EngineConfig(name="hf", dtype="float16", batch_size=2))
    try:
        assert engine.provenance["dtype"] == "float16" and str(engine._model.dtype) == "torch.float16"
        out = engine.generate(PROMPTS, SamplingConfig(temperature=0, max_new_tokens=4))
        assert [len(samples) for samples in out] == [1, 1, 1]
    finally:
        engine.close()


def test_hf_engine_refuses_vllm_serving_knobs(tiny_dir):
    for field, value in (("tensor_parallel_size", 2), ("quantization", "gptq")):
        with pytest.raises(InvalidSpec) as err:
            create_engine(tiny_dir, EngineConfig(name="hf", **{field: value}))
        assert err.value.field == f"engine.{field}"


def test_empty_prompt_list(hf_engine):
    assert hf_engine.generate([], sampled()) == []


def test_sampling_config_validation():
    for bad in ({"temperature": -0.1}, {"top_p": 0}, {"max_new_tokens": 0}, {"n": 0}, {"surprise": 1},
                {"presence_penalty": 2.5}, {"frequency_penalty": -3}, {"stop": [""]}, {"stop": ["x"] * 17}):
        with pytest.raises(InvalidSpec):
            parse_spec(SamplingConfig, bad)
    assert SamplingConfig(temperature=0).greedy and not SamplingConfig(top_k=0).top_k_enabled
    assert parse_spec(SamplingConfig, {"stop": ["\n\n", "Task:"]}).stop == ("\n\n", "Task:")
    assert not SamplingConfig().penalized and SamplingConfig(frequency_penalty=0.1).penalized


def test_unknown_engine_lists_valid_names(tiny_dir):
    with pytest.raises(InvalidSpec) as err:
        create_engine(tiny_dir, EngineConfig(name="nope"))
    assert "hf" in str(err.value) and "vllm" in str(err.value)
    assert {"hf", "vllm"} <= set(engine_names())


def test_pickle_only_folder_is_refused(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"not really a pickle")
    with pytest.raises(UnsafeArtifact):
        create_engine(tmp_path, EngineConfig(name="hf"))


def test_missing_folder_names_the_path(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelNotFound) as err:
        create_engine(missing, EngineConfig(name="hf"))
    assert str(missing) in str(err.value)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelNotFound):  # config but no weights at all
        create_engine(tmp_path, EngineConfig(name="vllm"))


def test_cache_reuses_real_engine(tiny_dir):
    cache = EngineCache(max_size=1)
    config = EngineConfig(name="hf", batch_size=2)
    first = cache.get(tiny_dir, config)
    assert cache.get(tiny_dir, config) is first
    assert (tiny_dir, config) in cache
    cache.close()
    assert len(cache) == 0


class FakeEngine:
    def __init__(self, model_dir: Path, config: EngineConfig):
        self.model_dir, self.config, self.closed = model_dir, config, False

    def generate(self, prompts, sampling, reporter=None):
        return [[p] * sampling.n for p in prompts]

    def close(self):
        self.closed = True


def test_cache_evicts_lru_and_defers_close_while_leased(tmp_path):
    created: list[FakeEngine] = []

    def factory(model_dir, config):
        created.append(FakeEngine(model_dir, config))
        return created[-1]

    cache = EngineCache(max_size=2, factory=factory)
    a, b, c = (EngineConfig(batch_size=k) for k in (1, 2, 3))
    with cache.lease(tmp_path, a) as engine_a:
        cache.get(tmp_path, b)
        cache.get(tmp_path, a)  # a is now most recent: b is the LRU
        cache.get(tmp_path, c)
        assert created[1].closed and not engine_a.closed
        cache.get(tmp_path, b)  # evicts a while it is leased
        assert not engine_a.closed
    assert engine_a.closed
    assert len(created) == 4 and len(cache) == 2


def test_cache_loads_once_under_concurrency(tmp_path):
    created: list[FakeEngine] = []
    cache = EngineCache(max_size=1, factory=lambda d, c: created.append(FakeEngine(d, c)) or created[-1])
    threads = [threading.Thread(target=cache.get, args=(tmp_path, EngineConfig())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(created) == 1


def test_vllm_cpu_env_defaults_respect_operator(monkeypatch):
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "7")
    monkeypatch.delenv("VLLM_CPU_OMP_THREADS_BIND", raising=False)
    monkeypatch.delenv("VLLM_CPU_NUM_OF_RESERVED_CPU", raising=False)
    set_cpu_env_defaults(3)
    assert os.environ["VLLM_CPU_KVCACHE_SPACE"] == "7"
    assert os.environ["VLLM_CPU_NUM_OF_RESERVED_CPU"] == "0"
    assert os.environ["VLLM_CPU_OMP_THREADS_BIND"].split(",")[0].isdigit()


def test_importing_engines_loads_no_heavy_library():
    code = "import sys, genleak.engines; print(sorted({'torch', 'transformers', 'vllm'} & set(sys.modules)))"
    services = str(Path(genleak.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": services}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "[]"
