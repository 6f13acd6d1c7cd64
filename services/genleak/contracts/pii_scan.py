"""The PII-scan jobs' contract: StartPIIScan (untargeted leakage: sample a model or read a dataset, detect
PII with Presidio, match it to the real PII and to the fine-tuning data) and DetectPII, and their results.

The result holds counts only, per source (unconditioned samples, prompted samples, a scanned dataset)
and entity type; the values stay in the job's masked `findings` artifact.
"""

from __future__ import annotations

from typing import Any, Mapping

from pydantic import Field, field_validator, model_validator

from genleak.contracts.compute import ComputeRecord
from genleak.contracts.engine import EngineConfig, SamplingConfig
from genleak.contracts.pii import AnalyzerConfig
from genleak.core.errors import InvalidSpec
from genleak.core.pii_mask import EMAIL, PERSON, PHONE, STREET_ADDRESS
from genleak.core.specs import ArtifactSpec, Spec

# Carlini et al. 2021 sample unconditioned with top-k 40; 128 new tokens fit the lab models' 256 positions.
DEFAULT_SAMPLING = SamplingConfig(temperature=1.0, top_k=40, max_new_tokens=128)
DEFAULT_PEOPLE_FIELDS = {EMAIL: "email", PHONE: "phone", PERSON: "name", STREET_ADDRESS: "address"}


class PIISampling(Spec):
    """How many samples of which kind; `sampling.n` is samples per drawn prompt."""

    n_unconditioned: int = Field(100, ge=0, description="Samples generated from the BOS token (or `prefix`)")
    prefix: str = Field("", description="Unconditioned prompt; empty = the tokenizer's BOS token alone")
    prompts: ArtifactSpec | None = Field(None, description="Dataset whose records hold prompts")
    prompt_field: str = Field("prompt", min_length=1, description="Record field holding the prompt")
    n_prompted: int = Field(100, ge=0, description="Prompts drawn (seeded, without replacement; all when fewer)")
    sampling: SamplingConfig = Field(DEFAULT_SAMPLING, description="Decoding (defaults: T=1, top-k 40, 128 tokens)")

    @field_validator("sampling", mode="before")
    @classmethod
    def _over_defaults(cls, value: Any) -> Any:
        # A request naming only a temperature keeps the scan's other defaults (top-k 40, 128 tokens).
        if isinstance(value, Mapping):
            return {**DEFAULT_SAMPLING.model_dump(), **value}
        return value

    @model_validator(mode="after")
    def _something(self) -> "PIISampling":
        if self.n_unconditioned == 0 and (self.prompts is None or self.n_prompted == 0):
            raise InvalidSpec("asks for no samples: set n_unconditioned or prompts with n_prompted", field="samples")
        return self


class InventorySpec(Spec):
    """Where the real PII comes from: a people dataset, a private corpus (via Presidio), or both (union)."""

    people: ArtifactSpec | None = Field(None, description="Dataset of people records: exact values per type")
    people_fields: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_PEOPLE_FIELDS),
                                          description="Entity type -> people record field (empty = the lab's)")
    corpus: ArtifactSpec | None = Field(None, description="Private corpus dataset: Presidio over it builds the "
                                                          "inventory")
    corpus_field: str = Field("text", min_length=1, description="Record field holding the corpus text")

    @field_validator("people_fields", mode="before")
    @classmethod
    def _default_fields(cls, value: Any) -> Any:
        return value or dict(DEFAULT_PEOPLE_FIELDS)

    @model_validator(mode="after")
    def _a_source(self) -> "InventorySpec":
        if self.people is None and self.corpus is None:
            raise InvalidSpec("needs a people dataset, a corpus dataset, or both", field="inventory")
        return self


class DetectionParams(Spec):
    batch_size: int = Field(32, ge=1, description="Texts per spaCy batch")
    n_process: int = Field(1, ge=1, le=64, description="Analyzer processes (spawned; each loads spaCy): 1 = in-process")


class PIIScanParams(Spec):
    """What StartPIIScan takes besides the model, the scanned dataset, the inventory and the fine-tuning data."""

    engine: EngineConfig = Field(default_factory=EngineConfig, description="How the model is sampled")
    samples: PIISampling | None = Field(None, description="What to sample; defaults apply when a model is given")
    text_field: str = Field("text", min_length=1, description="Record field of the scanned dataset")
    finetune_fields: list[str] = Field(default_factory=list, description="Fields of the fine-tuning records "
                                       "searched; empty = every string field")
    analyzer: AnalyzerConfig = Field(default_factory=AnalyzerConfig, description="How Presidio analyzes")
    detection: DetectionParams = Field(default_factory=DetectionParams, description="How detection is batched")
    reveal: bool = Field(False, description="Write raw values and sample texts to the artifacts (they hold PII)")


class DetectPIIParams(Spec):
    """What DetectPII takes besides the texts and the inventory."""

    analyzer: AnalyzerConfig = Field(default_factory=AnalyzerConfig, description="How Presidio analyzes")
    detection: DetectionParams = Field(default_factory=DetectionParams, description="How detection is batched")
    reveal: bool = Field(False, description="Return raw values (off: masked values and salted ids only)")


class EntityCounts(Spec):
    """One entity type in one source: detections, how many are real PII, and of those how many were not in
    the model's fine-tuning data (so came from pretraining); `_unique` counts distinct values."""

    detected: int
    detected_unique: int
    real: int
    real_unique: int
    real_not_in_finetune: int
    real_not_in_finetune_unique: int
    precision: float | None = Field(description="real / detected")
    planted: int | None = Field(None, description="A scanned corpus: real values planted in it")
    found: int | None = None
    recall: float | None = Field(None, description="found / planted")


class SourceCounts(Spec):
    n_texts: int
    entities: dict[str, EntityCounts]


class PIIScanResult(Spec):
    """StartPIIScan's result: counts per source and entity type; values only in the `findings` artifact."""

    sources: dict[str, SourceCounts] = Field(description="unconditioned | prompted | texts -> counts")
    inventory: dict[str, Any] | None = Field(description="Where the real PII came from and how many values per type")
    finetune: dict[str, int] = Field(description="Fine-tuning datasets and texts searched")
    analyzer: dict[str, Any] = Field(description="The analyzer's config hash and the recognizers that ran")
    pii_salt: str = Field(description="Fingerprint of the salt of the value ids (never the salt)")
    masked: bool
    seconds: dict[str, float]
    compute: ComputeRecord | None = Field(None, description="Where the job computed: device, "
                                          "precision, peak memory, library versions")
