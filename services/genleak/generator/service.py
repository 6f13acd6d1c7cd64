"""Generator core: synthetic training data from a prompts dataset, generator model per request.

A generation job's result names the engine that wrote the data and its compute (`ComputeRecord`:
device, dtype, peak memory, tokens per second where the task counts them).
"""

from __future__ import annotations

from pydantic import Field

from genleak.contracts.generation import EngineChoice, GenerateParams, GenerationParams, generation_result_type
from genleak.core.datasets import load_records, publish_records, require_dataset
from genleak.core.jobs import JobOutput
from genleak.core.models import require_model, resolve_model
from genleak.core.outputs import run_cached
from genleak.core.progress import Reporter
from genleak.core.specs import ArtifactSpec, ModelSpec, Spec, parse_spec
from genleak.core.store import ArtifactRef, ArtifactStore
from genleak.engines import EngineCache, EngineConfig
from genleak.generator.tasks import get_task
from genleak.presidio.scrub import scrub_records


class GenerationSpec(GenerationParams):
    """One generation job: the contract's params plus the generator model and the source dataset."""

    model: ModelSpec
    dataset: ArtifactSpec

    def task_config(self, where: str = "config") -> Spec:
        return parse_spec(get_task(self.task).config_type, self.config, where=where)


class GenerateSpec(GenerateParams):
    """A small synchronous generation for a handful of prompts."""

    model: ModelSpec
    prompts: list[str] = Field(min_length=1, max_length=256)


class EngineModelSpec(EngineChoice):
    """A model plus the engine that loads it (the engine cache's key)."""

    model: ModelSpec


class GeneratorCore:
    def __init__(self, store: ArtifactStore, engines: EngineCache):
        self.store = store
        self.engines = engines

    def preflight(self, spec: GenerationSpec) -> None:
        require_model(self.store, spec.model.uri, allow_pickle=spec.model.allow_pickle)
        require_dataset(self.store, spec.dataset.uri)

    def run_generation(self, spec: GenerationSpec, reporter: Reporter) -> JobOutput:
        # Keyed by the validated task config, defaults included: a changed default (a new filter, another
        # decoding setting) is a new job, not the stored output of the old one.
        keyed = spec.model_copy(update={"config": spec.task_config().model_dump(mode="json")})
        return run_cached(self.store, "generation", keyed, reporter,
                          lambda root, r: self._generate_dataset(keyed, root, r))

    def generate(self, spec: GenerateSpec) -> list[list[str]]:
        require_model(self.store, spec.model.uri, allow_pickle=spec.model.allow_pickle)
        model_dir = resolve_model(self.store, spec.model)
        with self.engines.lease(model_dir, _engine_config(spec)) as engine:
            return engine.generate(list(spec.prompts), spec.sampling)

    def load_model(self, spec: "EngineModelSpec") -> None:
        require_model(self.store, spec.model.uri, allow_pickle=spec.model.allow_pickle)
        model_dir = resolve_model(self.store, spec.model)
        self.engines.load(model_dir, _engine_config(spec))

    def unload_model(self, spec: "EngineModelSpec", all_engines: bool) -> int:
        model_dir = resolve_model(self.store, spec.model)  # the same folder load_model resolved
        return self.engines.unload(model_dir, None if all_engines else _engine_config(spec))

    def _generate_dataset(self, spec: GenerationSpec, root: str, reporter: Reporter) -> JobOutput:
        from genleak.compute.device import ComputeMeter, pick_device  # torch-side: loaded when a job runs

        task = get_task(spec.task)
        config = spec.task_config()
        records = load_records(self.store, ArtifactRef(spec.dataset.uri, spec.dataset.sha256, "dataset"), "dataset")
        scrub_stats = None
        if spec.scrub is not None:
            records, scrub_stats = scrub_records(records, spec.scrub, task.text_fields(config), reporter)
        model_dir = resolve_model(self.store, spec.model)
        with ComputeMeter(pick_device()) as meter, self.engines.lease(model_dir, _engine_config(spec)) as engine:
            out, stats = task.run(engine, model_dir, records, config, reporter)
            # Which engine, dtype and device wrote the data (and the reduced-precision check, if one ran).
            provenance = getattr(engine, "provenance", {"engine": spec.engine.name})
            stats = {**stats, "engine": provenance}
        stats["compute"] = meter.engine_record(provenance, stats.get("tokens_per_second")).model_dump(mode="json")
        if scrub_stats is not None:
            stats = {**stats, "scrub": scrub_stats}
        stats = generation_result_type(spec.task).model_validate(stats).model_dump(mode="json", exclude_none=True)
        meta = {"task": spec.task, "spec": spec.model_dump(mode="json"), "stats": stats}
        ref = publish_records(self.store, out, f"{root}/dataset", meta=meta)
        return JobOutput(artifacts={"dataset": ref}, result=stats)


def _engine_config(spec: GenerationSpec | GenerateSpec | EngineModelSpec) -> EngineConfig:
    return (spec.engine or EngineConfig()).model_copy(update={"trust_remote_code": spec.model.trust_remote_code})
