"""How a model is run and sampled: the engine and sampling settings every generating or scoring job takes.

`EngineConfig` picks the engine (hf, vllm) and how it loads a model; `SamplingConfig` is how
completions are drawn. The engines (genleak.engines) implement them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from genleak.core.specs import Spec


class SamplingConfig(Spec):
    """How completions are sampled. Every field changes the result, so all are explicit."""

    temperature: float = Field(1.0, ge=0.0, description="Softmax temperature; 0 = greedy decoding")
    top_k: int = Field(-1, ge=-1, description="Keep the k most likely tokens; -1 or 0 = off")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling mass; 1.0 = off")
    max_new_tokens: int = Field(64, ge=1, description="Upper bound on generated tokens per completion")
    n: int = Field(1, ge=1, description="Completions per prompt")
    seed: int = Field(0, description="Sampling seed; the same seed and inputs give the same outputs")
    presence_penalty: float = Field(
        0.0, ge=-2.0, le=2.0, description="OpenAI/vLLM semantics: subtracted once from the logit of every token "
        "that already occurs in this completion (the prompt does not count), before temperature; 0 = off")
    frequency_penalty: float = Field(
        0.0, ge=-2.0, le=2.0, description="OpenAI/vLLM semantics: subtracted from a token's logit once per earlier "
        "occurrence in this completion (the prompt does not count), before temperature; 0 = off")
    stop: tuple[str, ...] = Field(
        (), max_length=16, description="Generation ends where the first of these strings appears in the "
        "completion; the completion is returned without it (OpenAI/vLLM semantics); empty = none")

    @field_validator("stop")
    @classmethod
    def _stop_strings_not_empty(cls, stop: tuple[str, ...]) -> tuple[str, ...]:
        if any(not s for s in stop):
            raise ValueError("stop strings must not be empty")
        return stop

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    @property
    def top_k_enabled(self) -> bool:
        return self.top_k > 0

    @property
    def penalized(self) -> bool:
        return self.presence_penalty != 0.0 or self.frequency_penalty != 0.0


# vLLM's quantization methods (vllm.model_executor.layers.quantization.QUANTIZATION_METHODS, vLLM 0.32) that
# serve the 1-12B decoder checkpoints genleak audits. Left out: MoE-only (experts_int8, moe_wna16), model- or
# vendor-specific (deepseek_v4_fp8, gpt_oss_mxfp4, quark, inc, humming, NVFP4/MXFP formats), deprecated
# (fbgemm_fp8, fp_quant) and online shorthands; bitsandbytes is not a vLLM 0.32 method.
QuantizationMethod = Literal["awq", "awq_marlin", "gptq", "gptq_marlin", "fp8", "compressed-tensors", "modelopt"]


class EngineConfig(Spec):
    """Which engine loads a model and how. The model folder itself is passed separately."""

    name: str = Field("hf", description="Registered engine name: 'hf' (transformers) or 'vllm'")
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = Field(
        "auto", description="Weights/compute dtype. 'auto' is float32 on a CPU, in the hf engine and in MIA scoring, "
        "and the checkpoint's dtype for vllm generation on a GPU. On a CPU, vllm in bfloat16/float16 is first "
        "checked against transformers in that dtype and refused on a mismatch")
    batch_size: int = Field(16, ge=1, description="Prompts per forward batch (hf engine)")
    max_model_len: int | None = Field(
        None, ge=8, description="Max prompt+completion tokens; None = the model's max_position_embeddings"
    )
    kv_cache_gib: int = Field(
        2, ge=1, description="vllm on a CPU: KV-cache size in GiB (VLLM_CPU_KVCACHE_SPACE). On a GPU "
        "gpu_memory_utilization sizes the KV cache instead")
    trust_remote_code: bool = Field(False, description="Allow model code shipped inside the model folder")
    enforce_eager: bool | None = Field(
        None, description="vllm: run the model eagerly (true) or with torch.compile and CUDA graphs (false). "
        "None = automatic: eager on a CPU, where compilation costs 30-50 s of start-up for no steady gain; "
        "CUDA graphs on a GPU, where they speed up decoding")
    tensor_parallel_size: int = Field(
        1, ge=1, description="vllm on GPUs: shard the model over this many GPUs (at most the GPUs the worker "
        "sees). The hf engine and vllm on a CPU run one process and refuse more than 1")
    gpu_memory_utilization: float = Field(
        0.9, gt=0.0, le=1.0, description="vllm on a GPU: fraction of each GPU's memory this engine may take "
        "(weights, activations and KV cache); lower it when engines share a GPU. Ignored on a CPU, where "
        "kv_cache_gib sizes the KV cache")
    quantization: QuantizationMethod | None = Field(
        None, description="vllm on a GPU: the checkpoint's quantization method as vLLM names it (awq, gptq, "
        "their *_marlin kernels, fp8, compressed-tensors, modelopt); fp8 also quantizes a 16-bit checkpoint "
        "on load. None = as the checkpoint's config says (unquantized for a plain checkpoint). The hf engine "
        "and vllm on a CPU refuse it")

    @model_validator(mode="after")
    def _name_not_empty(self) -> "EngineConfig":
        if not self.name.strip():
            raise ValueError("engine name must not be empty")
        return self
