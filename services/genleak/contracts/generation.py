"""The generation jobs' contract: StartGeneration, Generate and the engine-cache calls, and their results.

A generation job runs a registered task (continuation: the paper's scenario A; self_instruct: Wang
et al.'s loop, scenario B) over a source dataset. `config` is the task's own config, sampling knobs
included (the continuation task's temperature, top_k, ...; self-instruct's per-stage decoding),
validated by the task's config class on the generator, with every default filled in.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from genleak.contracts.compute import ComputeRecord
from genleak.contracts.engine import EngineConfig, SamplingConfig
from genleak.contracts.pii import ScrubConfig
from genleak.core.specs import Spec


class GenerationParams(Spec):
    """What StartGeneration takes besides the generator model and the source dataset."""

    engine: EngineConfig = Field(default_factory=EngineConfig, description="How the generator runs")
    task: str = Field("continuation", description="Registered generation task: continuation | self_instruct")
    config: dict[str, Any] = Field(default_factory=dict, description="The task's config, sampling knobs included "
                                   "(e.g. continuation: temperature, top_k, max_new_tokens, max_prompt_tokens, "
                                   "limit, offset; self_instruct: n_instructions, rouge_threshold, ...)")
    scrub: ScrubConfig | None = Field(None, description="Replace PII in the source records with consistent "
                                      "surrogates before generating (the paper's replaced_data condition)")


class GenerateParams(Spec):
    """What the synchronous Generate call takes besides the model and the prompts."""

    engine: EngineConfig = Field(default_factory=EngineConfig, description="How the model runs")
    sampling: SamplingConfig = Field(default_factory=SamplingConfig, description="How completions are sampled")


class EngineChoice(Spec):
    """LoadModel's and UnloadModel's params: which engine (UnloadModel without one: every engine)."""

    engine: EngineConfig | None = Field(None, description="The engine loading the model; LoadModel: null = the "
                                        "default engine; UnloadModel: null = every engine loaded for the model")


class GenerationOutcome(Spec):
    """What every generation job reports; each task adds its own counters (see the task's result below)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    engine: dict[str, Any] = Field(description="Which engine, dtype and device wrote the data (and the "
                                   "reduced-precision check, when one ran)")
    scrub: dict[str, Any] | None = Field(None, description="The scrub's counts per entity type (no values)")
    seconds: float = Field(description="Wall time of the task")
    compute: ComputeRecord | None = Field(None, description="Where the job computed: device, "
                                          "precision, peak memory, library versions")


class ContinuationResult(GenerationOutcome):
    model_config = ConfigDict(frozen=True, extra="forbid")

    n_in: int = Field(description="Source records selected (offset/limit)")
    n_dropped_long: int = Field(description="Prompts of max_prompt_tokens or more, dropped (as the paper)")
    n_out: int = Field(description="Records generated")
    generated_tokens_approx: int = Field(description="Generated tokens, re-tokenized from the text")
    tokens_per_second: float


class SelfInstructResult(GenerationOutcome):
    model_config = ConfigDict(frozen=True, extra="forbid")

    n_seed: int
    n_seed_examples: int
    prompt_format: str = Field(description="chat (the generator's chat template) or plain")
    n_rounds: int
    stopped: str = Field(description="n_instructions (enough accepted) or max_rounds")
    n_prompts: int
    n_classify_prompts: int
    n_instance_prompts: int
    n_candidates: int
    n_machine_instructions: int
    n_accepted: int
    n_unused: int
    dropped: dict[str, int] = Field(description="Candidates dropped, by the filter that dropped them")
    accepted_per_round: list[int]
    n_noinput: int
    n_classification: int
    classify_demos: str | None
    classify_unparsed: int
    classify_prompt_too_long: int
    n_lenient_instances: int
    icl_trimmed_prompts: int
    rouge_exact_scores: int
    mean_instruction_words: float
    mean_output_words: float


GENERATION_RESULTS: dict[str, type[GenerationOutcome]] = {
    "continuation": ContinuationResult,
    "self_instruct": SelfInstructResult,
}


def generation_result_type(task: str) -> type[GenerationOutcome]:
    """The result contract of a task; a task registered elsewhere reports at least the common outcome."""
    return GENERATION_RESULTS.get(task, GenerationOutcome)
