"""Hugging Face transformers engine.

Exact and simple; on CPU it is the faster engine for tiny models (vLLM's per-step
overhead dominates below ~25M parameters, docs/platform.md). The model and its inputs live on
`genleak.compute.device.pick_device()`'s device (a GPU when one is visible); on a CPU that is
where they always were, so CPU runs generate exactly what they did.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from pathlib import Path
from typing import Any

from genleak.core.errors import InvalidSpec
from genleak.core.loading import MODEL_LOAD_LOCK
from genleak.core.progress import NULL_REPORTER, Reporter
from genleak.engines.base import GENERATE_STAGE, EngineConfig, SamplingConfig, check_model_dir
from genleak.engines.precision import resolve_dtype
from genleak.engines.registry import register_engine

log = logging.getLogger(__name__)

_INSTALL_HINT = "the hf engine needs torch and transformers: pip install 'genleak[ml]'"
# Sampling draws from torch's process-global RNG, so seeded runs must not interleave,
# even across engines: one generate at a time per process.
_TORCH_RNG_LOCK = threading.Lock()


def _import_torch_transformers() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(f"{_INSTALL_HINT} ({exc})") from exc
    return torch, transformers


class HFEngine:
    """`GenerationEngine` over `AutoModelForCausalLM.generate` (safetensors only)."""

    def __init__(self, model_dir: Path, config: EngineConfig):
        self.model_dir = check_model_dir(model_dir)
        refuse_vllm_only(config)
        self.config = config
        self._torch, transformers = _import_torch_transformers()
        from genleak.compute.device import ENGINE_DEVICE_KEY, device_record, pick_device  # torch-side

        started = time.perf_counter()
        self.device = pick_device()
        self._tokenizer = _load_tokenizer(transformers, self.model_dir, config)
        self._model = _load_model(self._torch, transformers, self.model_dir, config, self.device).to(self.device)
        self._transformers = transformers
        self.provenance = {"engine": "hf", "dtype": resolved_dtype(config), "device": self.device.type,
                           ENGINE_DEVICE_KEY: device_record(self.device)}
        self._max_len = config.max_model_len or getattr(self._model.config, "max_position_embeddings", None)
        self.startup_seconds = time.perf_counter() - started
        log.info("hf engine ready for %s in %.1fs", self.model_dir, self.startup_seconds)

    def generate(
        self, prompts: list[str], sampling: SamplingConfig, reporter: Reporter | None = None
    ) -> list[list[str]]:
        reporter = reporter or NULL_REPORTER
        if self._model is None:
            raise RuntimeError("engine is closed")
        results: list[list[str]] = [[] for _ in prompts]
        with _TORCH_RNG_LOCK, self._torch.inference_mode():
            started = time.perf_counter()
            self._torch.manual_seed(sampling.seed)
            token_ids = self._tokenizer(list(prompts))["input_ids"] if prompts else []
            batches = _batches_by_length(token_ids, self.config.batch_size)
            done, new_tokens = 0, 0
            for batch in batches:
                reporter.check()
                texts, n_tokens = self._generate_batch([token_ids[i] for i in batch], sampling)
                for j, i in enumerate(batch):
                    results[i] = texts[j * sampling.n : (j + 1) * sampling.n]
                done, new_tokens = done + len(batch), new_tokens + n_tokens
                reporter.update(GENERATE_STAGE, done, len(prompts), f"{done}/{len(prompts)} prompts")
            _log_speed(len(prompts), new_tokens, time.perf_counter() - started)
        return results

    def close(self) -> None:
        with _TORCH_RNG_LOCK:  # lets an in-flight generate finish first
            self._model = None
            self._tokenizer = None
        gc.collect()

    def _generate_batch(self, ids: list[list[int]], sampling: SamplingConfig) -> tuple[list[str], int]:
        enc = self._tokenizer.pad({"input_ids": ids}, padding=True, return_tensors="pt").to(self.device)
        input_len = enc["input_ids"].shape[1]
        gen_config = self._generation_config(sampling, self._new_token_budget(input_len, sampling))
        extra: dict[str, Any] = {}
        if sampling.penalized:
            extra["logits_processor"] = self._transformers.LogitsProcessorList(
                [OpenAIPenalties(input_len, sampling.presence_penalty, sampling.frequency_penalty)])
        if sampling.stop:
            extra["tokenizer"] = self._tokenizer  # StopStringCriteria maps the strings onto its vocabulary
        out = self._model.generate(**enc, generation_config=gen_config, **extra)
        new = out[:, input_len:].cpu()  # decoding reads token ids on the host
        n_tokens = int((new != self._tokenizer.pad_token_id).sum())
        texts = [cut_at_stop(t, sampling.stop) for t in self._tokenizer.batch_decode(new, skip_special_tokens=True)]
        if sampling.greedy and sampling.n > 1:
            # Greedy decoding is deterministic: n identical samples, computed once.
            texts = [t for t in texts for _ in range(sampling.n)]
        return texts, n_tokens

    def _new_token_budget(self, input_len: int, sampling: SamplingConfig) -> int:
        """Like vLLM: generation stops at max_model_len; a prompt that fills it is an error."""
        if self._max_len is None:
            return sampling.max_new_tokens
        room = self._max_len - input_len
        if room <= 0:
            raise InvalidSpec(f"a prompt of {input_len} tokens leaves no room under max_model_len={self._max_len}")
        return min(sampling.max_new_tokens, room)

    def _generation_config(self, sampling: SamplingConfig, max_new_tokens: int) -> Any:
        # A fresh config, so the model folder's generation_config.json cannot change sampling.
        common: dict[str, Any] = dict(
            max_new_tokens=max_new_tokens,
            eos_token_id=self._eos_token_id(),
            pad_token_id=self._tokenizer.pad_token_id,
        )
        if sampling.stop:
            common["stop_strings"] = list(sampling.stop)
        if sampling.greedy:
            return self._transformers.GenerationConfig(do_sample=False, **common)
        return self._transformers.GenerationConfig(
            do_sample=True,
            temperature=sampling.temperature,
            top_k=sampling.top_k if sampling.top_k_enabled else 0,
            top_p=sampling.top_p,
            num_return_sequences=sampling.n,
            **common,
        )

    def _eos_token_id(self) -> int | list[int] | None:
        model_eos = getattr(self._model.generation_config, "eos_token_id", None)
        return model_eos if model_eos is not None else self._tokenizer.eos_token_id


class OpenAIPenalties:
    """Presence and frequency penalties as OpenAI and vLLM apply them, for `generate(logits_processor=...)`.

    logit[t] -= frequency * count[t] + presence * (count[t] > 0), where count[t] counts token t in this
    row's completion so far; the prompt (the first `prompt_len` columns, left padding included) does not
    count. transformers runs custom processors before its temperature/top-k/top-p warpers, so, as in
    vLLM, the penalties act on the raw logits. (transformers' own `repetition_penalty` is another rule:
    multiplicative and over the prompt too.) Pure tensor methods: no torch import at module load.
    """

    def __init__(self, prompt_len: int, presence: float, frequency: float):
        self.prompt_len, self.presence, self.frequency = prompt_len, presence, frequency

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        generated = input_ids[:, self.prompt_len:]
        if generated.shape[1] == 0:
            return scores
        vocab = scores.shape[-1]
        valid = generated < vocab  # a finished row's padding may lie outside the logits
        counts = scores.new_zeros(scores.shape).scatter_add_(1, generated.where(valid, 0), valid.to(scores.dtype))
        return scores - self.frequency * counts - self.presence * (counts > 0).to(scores.dtype)


def cut_at_stop(text: str, stop: tuple[str, ...]) -> str:
    """The text before the first stop string (vLLM and OpenAI return completions without it).

    transformers' StopStringCriteria ends a row once a stop string is generated but keeps its tokens,
    and a token may run past the string's end; cutting the decoded text gives vLLM's result either way.
    """
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
    return text if cut < 0 else text[:cut]


def _load_tokenizer(transformers: Any, model_dir: Path, config: EngineConfig) -> Any:
    tok = transformers.AutoTokenizer.from_pretrained(
        str(model_dir), trust_remote_code=config.trust_remote_code, padding_side="left"
    )
    if tok.pad_token is None:
        # Pythia/GPT-2 style tokenizers have no pad token; EOS is the usual stand-in.
        tok.pad_token = tok.eos_token
    return tok


def _load_model(torch: Any, transformers: Any, model_dir: Path, config: EngineConfig, device: Any) -> Any:
    from genleak.compute.device import load_placement

    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16,
             "auto": "auto"}[resolved_dtype(config)]
    with MODEL_LOAD_LOCK:
        model = transformers.AutoModelForCausalLM.from_pretrained(
            str(model_dir), dtype=dtype, use_safetensors=True, trust_remote_code=config.trust_remote_code,
            **load_placement(device),
        )
    return model.eval()


def refuse_vllm_only(config: EngineConfig) -> None:
    """InvalidSpec for the vLLM serving knobs this engine cannot honour, before a model loads. (It ignores
    enforce_eager and gpu_memory_utilization: they only tune how vLLM runs.)"""
    if config.tensor_parallel_size > 1:
        raise InvalidSpec(f"{config.tensor_parallel_size}: the hf engine runs a model on one device; "
                          "tensor parallelism needs engine.name: vllm", field="engine.tensor_parallel_size")
    if config.quantization is not None:
        raise InvalidSpec(f"{config.quantization!r}: the hf engine takes no quantization method (it runs the "
                          "weights in engine.dtype); quantized serving needs engine.name: vllm on a GPU",
                          field="engine.quantization")


def resolved_dtype(config: EngineConfig) -> str:
    # "auto" is float32 wherever this engine runs, a GPU included: the same numbers on every CPU, and a
    # GPU's generations comparable to them (the checkpoint's dtype on a GPU would be a choice of its own).
    return resolve_dtype(config.dtype, on_gpu=False)


def _batches_by_length(token_ids: list[list[int]], batch_size: int) -> list[list[int]]:
    """Indices grouped so similar lengths share a batch (less padding); stable, so reproducible."""
    order = sorted(range(len(token_ids)), key=lambda i: len(token_ids[i]))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def _log_speed(n_prompts: int, new_tokens: int, seconds: float) -> None:
    rate = new_tokens / seconds if seconds > 0 else 0.0
    log.info("hf generate: %d prompts, %d new tokens in %.2fs (%.0f tok/s)", n_prompts, new_tokens, seconds, rate)


register_engine("hf", HFEngine)
