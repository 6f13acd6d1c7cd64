"""The GPU serving knobs of EngineConfig (issue 15): validation, the vLLM arguments built from them on a
CPU and (faked) on a GPU, the refusals of settings a device or engine cannot honour, provenance and
the engine-cache key. No engine starts: the vLLM side is its pure argument builder."""

from __future__ import annotations

from pathlib import Path

import pytest

from genleak.core.errors import InvalidSpec
from genleak.core.specs import parse_spec
from genleak.engines import EngineCache, EngineConfig, create_engine
from genleak.engines.hf import refuse_vllm_only
from genleak.engines.precision import REDUCED_DTYPES, TOLERANCES, needs_check, resolve_dtype
from genleak.engines.vllm_engine import vllm_provenance
from genleak.engines.vllm_runtime import llm_kwargs, refuse_unsupported, resolve_enforce_eager

MODEL = Path("/models/m")
# What vllm.LLM got on a CPU before the GPU knobs existed (EngineConfig() defaults, dtype resolved).
CPU_KWARGS_BEFORE = {"model": str(MODEL), "dtype": "float32", "enforce_eager": True, "trust_remote_code": False,
                     "load_format": "safetensors", "seed": 0, "enable_chunked_prefill": False}


def vllm(**kw) -> EngineConfig:
    return EngineConfig(name="vllm", **kw)


def test_defaults_and_bounds():
    config = EngineConfig()
    assert (config.tensor_parallel_size, config.gpu_memory_utilization, config.enforce_eager,
            config.quantization) == (1, 0.9, None, None)
    for bad in ({"tensor_parallel_size": 0}, {"gpu_memory_utilization": 0}, {"gpu_memory_utilization": 1.01},
                {"quantization": "bitsandbytes"}, {"quantization": "gguf"}, {"dtype": "float8"}):
        with pytest.raises(InvalidSpec) as err:
            parse_spec(EngineConfig, bad)
        assert err.value.field == next(iter(bad))
    parsed = parse_spec(EngineConfig, {"name": "vllm", "dtype": "float16", "tensor_parallel_size": 2,
                                       "gpu_memory_utilization": 1.0, "enforce_eager": False, "quantization": "awq"})
    assert (parsed.dtype, parsed.tensor_parallel_size, parsed.quantization) == ("float16", 2, "awq")


def test_every_description_is_written():
    assert all(info.description for info in EngineConfig.model_fields.values())


def test_quantization_names_are_vllm_methods():
    pytest.importorskip("vllm")
    from typing import get_args

    from vllm.model_executor.layers.quantization import QUANTIZATION_METHODS

    from genleak.contracts.engine import QuantizationMethod

    assert set(get_args(QuantizationMethod)) <= set(QUANTIZATION_METHODS)


@pytest.mark.parametrize("on_gpu", [False, True])
def test_enforce_eager_none_is_eager_on_a_cpu_only(on_gpu):
    assert resolve_enforce_eager(None, on_gpu) is (not on_gpu)
    assert resolve_enforce_eager(True, on_gpu) is True and resolve_enforce_eager(False, on_gpu) is False


def test_cpu_kwargs_are_unchanged_by_the_gpu_knobs():
    assert llm_kwargs(MODEL, vllm(dtype="float32"), on_gpu=False) == CPU_KWARGS_BEFORE
    # gpu_memory_utilization does not reach vLLM on a CPU (there it would be a CPU-memory fraction);
    # kv_cache_gib goes through VLLM_CPU_KVCACHE_SPACE (set_cpu_env_defaults), not the arguments.
    tuned = vllm(dtype="float32", gpu_memory_utilization=0.3, kv_cache_gib=5)
    assert llm_kwargs(MODEL, tuned, on_gpu=False) == CPU_KWARGS_BEFORE
    forced = llm_kwargs(MODEL, vllm(dtype="float32", enforce_eager=False, max_model_len=64), on_gpu=False)
    assert forced == {**CPU_KWARGS_BEFORE, "enforce_eager": False, "max_model_len": 64}


def test_gpu_kwargs_carry_the_serving_knobs():
    config = vllm(dtype="float16", tensor_parallel_size=2, gpu_memory_utilization=0.45, quantization="gptq",
                  kv_cache_gib=7)
    kwargs = llm_kwargs(MODEL, config, on_gpu=True)
    assert kwargs == {"model": str(MODEL), "dtype": "float16", "enforce_eager": False, "trust_remote_code": False,
                      "load_format": "safetensors", "seed": 0, "tensor_parallel_size": 2,
                      "gpu_memory_utilization": 0.45, "quantization": "gptq"}
    # gpu_memory_utilization sizes the KV cache on a GPU: kv_cache_memory_bytes would override it.
    assert "kv_cache_memory_bytes" not in kwargs and "enable_chunked_prefill" not in kwargs
    plain = llm_kwargs(MODEL, vllm(dtype="auto", enforce_eager=True), on_gpu=True)
    assert "quantization" not in plain and (plain["enforce_eager"], plain["tensor_parallel_size"]) == (True, 1)
    assert plain["gpu_memory_utilization"] == 0.9 and plain["dtype"] == "auto"


def test_the_kwargs_are_what_vllm_takes():
    pytest.importorskip("vllm")
    import inspect

    from vllm.engine.arg_utils import EngineArgs

    names = set(inspect.signature(EngineArgs).parameters)
    kwargs = llm_kwargs(MODEL, vllm(quantization="fp8", max_model_len=64), on_gpu=True)
    assert set(kwargs) - {"model"} <= names


def test_a_cpu_refuses_what_needs_gpus():
    with pytest.raises(InvalidSpec, match="one process") as err:
        llm_kwargs(MODEL, vllm(tensor_parallel_size=2), on_gpu=False)
    assert err.value.field == "engine.tensor_parallel_size"
    with pytest.raises(InvalidSpec, match="GPU only") as err:
        llm_kwargs(MODEL, vllm(quantization="awq"), on_gpu=False)
    assert err.value.field == "engine.quantization"
    refuse_unsupported(vllm(), on_gpu=False)  # the defaults run anywhere


def test_a_gpu_refuses_more_shards_than_gpus():
    refuse_unsupported(vllm(tensor_parallel_size=2), on_gpu=True, gpus=2)
    refuse_unsupported(vllm(tensor_parallel_size=8), on_gpu=True)  # count unknown: vLLM decides
    with pytest.raises(InvalidSpec, match="2 is more than the 1 GPU") as err:
        refuse_unsupported(vllm(tensor_parallel_size=2), on_gpu=True, gpus=1)
    assert err.value.field == "engine.tensor_parallel_size"


def test_hf_refuses_vllm_only_knobs_before_loading(tmp_path):
    refuse_vllm_only(EngineConfig(enforce_eager=False, gpu_memory_utilization=0.5, dtype="float16"))
    with pytest.raises(InvalidSpec, match="tensor parallelism needs engine.name: vllm") as err:
        refuse_vllm_only(EngineConfig(tensor_parallel_size=2))
    assert err.value.field == "engine.tensor_parallel_size"
    with pytest.raises(InvalidSpec, match="no quantization method") as err:
        refuse_vllm_only(EngineConfig(quantization="awq"))
    assert err.value.field == "engine.quantization"
    # The real engine refuses before any library loads (the folder needs only to pass the folder check).
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"not loaded")
    with pytest.raises(InvalidSpec, match="tensor_parallel_size"):
        create_engine(tmp_path, EngineConfig(name="hf", tensor_parallel_size=2))


def test_float16_is_a_reduced_dtype_checked_on_a_cpu():
    assert "float16" in REDUCED_DTYPES and "float16" in TOLERANCES
    assert needs_check("float16", on_gpu=False) and not needs_check("float16", on_gpu=True)
    assert resolve_dtype("float16", on_gpu=False) == "float16"
    # No looser than bfloat16 (float16 has more mantissa bits) and looser than float32.
    assert TOLERANCES["float32"].mean_abs_logprob < TOLERANCES["float16"].mean_abs_logprob \
        <= TOLERANCES["bfloat16"].mean_abs_logprob


def test_provenance_shows_the_resolved_knobs():
    from types import SimpleNamespace

    cpu = vllm_provenance(llm_kwargs(MODEL, vllm(dtype="float32"), on_gpu=False), on_gpu=False)
    assert cpu == {"engine": "vllm", "dtype": "float32", "device": "cpu", "tensor_parallel_size": 1,
                   "enforce_eager": True, "quantization": None}
    gpu_kwargs = llm_kwargs(MODEL, vllm(tensor_parallel_size=4, quantization="awq"), on_gpu=True)
    gpu = vllm_provenance(gpu_kwargs, on_gpu=True)
    assert (gpu["device"], gpu["tensor_parallel_size"], gpu["enforce_eager"], gpu["quantization"]) == \
        ("cuda", 4, False, "awq")
    # vLLM reads a pre-quantized checkpoint's method from its config: the engine's own answer wins.
    served = SimpleNamespace(llm_engine=SimpleNamespace(model_config=SimpleNamespace(quantization="awq_marlin")))
    assert vllm_provenance(gpu_kwargs, True, served)["quantization"] == "awq_marlin"
    plain = llm_kwargs(MODEL, vllm(), on_gpu=True)
    assert vllm_provenance(plain, True, served)["quantization"] == "awq_marlin"


@pytest.mark.parametrize("change", [{"tensor_parallel_size": 2}, {"gpu_memory_utilization": 0.5},
                                    {"enforce_eager": True}, {"enforce_eager": False}, {"dtype": "float16"},
                                    {"quantization": "awq"}])
def test_engine_cache_keys_differ_per_knob(change):
    base = EngineConfig(name="vllm")
    assert EngineCache.key(MODEL, base) != EngineCache.key(MODEL, base.model_copy(update=change))
    assert EngineCache.key(MODEL, base) == EngineCache.key(MODEL, EngineConfig(name="vllm"))
