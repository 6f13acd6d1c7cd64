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


class EngineConfig(Spec):
    """Which engine loads a model and how. The model folder itself is passed separately."""

    name: str = Field("hf", description="Registered engine name: 'hf' (transformers) or 'vllm'")
    dtype: Literal["float32", "bfloat16", "auto"] = Field("auto", description="Weights/compute dtype")
    batch_size: int = Field(16, ge=1, description="Prompts per forward batch (hf engine)")
    max_model_len: int | None = Field(
        None, ge=8, description="Max prompt+completion tokens; None = the model's max_position_embeddings"
    )
    kv_cache_gib: int = Field(2, ge=1, description="KV-cache size in GiB (vllm; VLLM_CPU_KVCACHE_SPACE on CPU)")
    trust_remote_code: bool = Field(False, description="Allow model code shipped inside the model folder")
    enforce_eager: bool = Field(True, description="vllm: skip torch.compile/graphs (faster start on CPU)")

    @model_validator(mode="after")
    def _name_not_empty(self) -> "EngineConfig":
        if not self.name.strip():
            raise ValueError("engine name must not be empty")
        return self
