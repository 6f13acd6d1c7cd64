"""Runs one experiment spec through the services: the stages form a small DAG run on threads.

base attack, original fine-tune and generation (plain and scrubbed) start at once; a generated
condition's fine-tune waits for its generation; each checkpoint's attack waits for its fine-tune;
each condition's leakage scan waits for its last checkpoint. Services queue their own jobs, so the
controller's threads mostly wait on gRPC streams.

With `generators:` (several generators) each generated condition is generated, tuned, attacked and
scanned once per generator, its stages named `<condition>:<generator name>` (`generate[generated:hot]`,
`finetune[generated:hot]`, `attack[generated:hot@epoch1]`) and its results tagged with `generator`;
base, original and planted run once. A spec with one `generator:` runs exactly as before (same stage
names, same requests, same results).

What depends on the scenario (its inputs, how one model is attacked, which checkpoints are, its
positive control) is asked of the registered scenario (genleak.controller.scenarios); the runner lends
it the helpers below (scenarios.base.Runner) and the run's lab references (`_LabRefs`).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from genleak.controller import positive_control as control
from genleak.controller import sharding, stages
from genleak.controller.clients import ServiceClients
from genleak.controller.scenarios import ATTACK_SETTINGS, get_scenario
from genleak.controller.spec import GENERATED_CONDITIONS, DataSpec, ExperimentSpec, GeneratorSpec, LabSpec
from genleak.controller.sweep import Setting, stage_name
from genleak.core.datasets import load_records, publish_records
from genleak.core.errors import InvalidSpec
from genleak.core.hashing import canonical_json, sha256_bytes
from genleak.core.progress import Reporter
from genleak.core.store import ArtifactRef, ArtifactStore
from genleak.rpc.convert import ref_from_proto, ref_to_proto
from genleak.v1 import common_pb2

log = logging.getLogger(__name__)

# Returns the lab's artifact refs by name and its summary (lab.json: stats, memorisation). The default
# asks the finetuner (StartLabBuild), which builds the lab once per config and publishes it to the store.
LabProvider = Callable[[LabSpec, Reporter], tuple[dict[str, ArtifactRef], dict[str, Any]]]
TUNED_ORDER = ("original", *GENERATED_CONDITIONS, control.PLANTED)


def data_format(spec: ExperimentSpec, condition: str) -> str:
    if condition not in GENERATED_CONDITIONS:
        return "prompt_continuation"
    return spec.finetune.instruction_format if spec.generation_task() == "self_instruct" else "text"


def generator_variants(spec: ExperimentSpec) -> list[tuple[str, GeneratorSpec]]:
    """(label, generator section) per generator: [("", spec.generator)] for a spec with `generator:`, the
    named entries of `generators:` otherwise."""
    if not spec.generators:
        return [("", spec.generator)]
    return [(g.name, g) for g in spec.generators]


def unit_name(condition: str, label: str) -> str:
    """How stage names spell a condition of one generator: `generated`, or `generated:hot` with `generators:`."""
    return f"{condition}:{label}" if label else condition


def generation_stage(condition: str, label: str = "") -> str:
    unit = unit_name(condition, label)
    return "generate" if unit == "generated" else f"generate[{unit}]"


def _labels(spec: ExperimentSpec, condition: str) -> list[str]:
    """The generators a tuned condition runs once for: each one for a generated condition, none otherwise."""
    return [label for label, _ in generator_variants(spec)] if condition in GENERATED_CONDITIONS else [""]


def _generator_field(label: str) -> dict[str, str]:
    """What a result records of its generator (nothing with one `generator:`)."""
    return {"generator": label} if label else {}


@dataclass
class StageClock:
    """Wall time per stage, for the report's provenance."""

    seconds: dict[str, float] = field(default_factory=dict)
    compute: dict[str, dict[str, Any]] = field(default_factory=dict)  # what ran where, per stage (job results)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record_compute(self, name: str, record: dict[str, Any] | None) -> None:
        if record:
            with self._lock:
                self.compute[name] = record

    def timed(self, name: str, fn: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        try:
            return fn()
        finally:
            with self._lock:
                self.seconds[name] = round(time.perf_counter() - started, 2)


class ExperimentRunner:
    def __init__(self, clients: ServiceClients, lab_provider: LabProvider | None = None,
                 store: ArtifactStore | None = None):
        """`store` is needed to shard jobs (generator.shards, mia.shards > 1): the controller slices
        their inputs and merges their outputs there (controller.sharding)."""
        self._clients = clients
        self._lab_provider = lab_provider or self._lab_from_finetuner
        self._store = store

    def _lab_from_finetuner(self, lab: LabSpec, reporter: Reporter) -> tuple[dict[str, ArtifactRef], dict[str, Any]]:
        def on_update(job: common_pb2.Job) -> None:
            reporter.update("lab", job.progress.done, job.progress.total, job.progress.message or job.progress.stage)

        return stages.build_lab(self._clients.finetuner, lab, on_update)

    def run(self, spec: ExperimentSpec, reporter: Reporter,
            on_stage_done: Callable[[str], None] | None = None) -> dict[str, Any]:
        """`on_stage_done(name)` hears of every stage of `plan_stages(spec)` whose outputs are published."""
        scenario = get_scenario(spec.scenario)
        clock = StageClock()
        inputs = clock.timed("lab", lambda: self._resolve_inputs(spec, reporter))
        if spec.uses_lab() and on_stage_done is not None:
            on_stage_done(LAB_STAGE)
        progress = _StageProgress(reporter, total=_count_stages(spec), on_stage_done=on_stage_done)
        generation: dict[str, Any] = {}
        with ThreadPoolExecutor(max_workers=16, thread_name_prefix="genleak-stage") as pool:
            attacks, leakage = self._schedule(spec, inputs, pool, progress, clock, generation)
            results = [future.result() for future in attacks]
            scans = [future.result() for future in leakage]
        lab_summary, training, planted = inputs.pop("lab_summary"), inputs.pop("training"), inputs.pop("planted")
        inputs.pop(ATTACK_SETTINGS, None)
        if planted:
            planted = {**planted, **scenario.control_verdict(spec, results, planted, self)}
        models = {label: g.model for label, g in generator_variants(spec)}
        for unit, entry in generation.items():
            stats = entry["stats"]
            training[unit] = {"dataset": entry["dataset"], "records": stats.get("n_out", stats.get("n_accepted")),
                              "what": f"data generated by the {entry['task']} task"}
            if "generator" in entry:
                training[unit].update(condition=entry["condition"], generator=entry["generator"],
                                      what=f"data generated by the {entry['task']} task with generator "
                                           f"{entry['generator']} ({models[entry['generator']]})")
        outcome = {"attacks": results, "leakage": scans, "stage_seconds": clock.seconds, "compute": clock.compute,
                   "lab": lab_summary,
                   "training_data": training, "positive_control": planted,
                   "inputs": {k: v if isinstance(v, str) else v.uri for k, v in inputs.items()},
                   "input_sha256": {k: v.sha256 for k, v in inputs.items() if not isinstance(v, str) and v.sha256},
                   "generation": generation}
        if spec.generators:  # what the report needs to give each generator its section
            planned = _planned_stages(spec)
            outcome["generators"] = [
                {"name": g.name, "model": g.model, "task": g.task, "engine": g.engine.name,
                 "sampling": g.sampling.model_dump(mode="json", exclude_none=True), "config": g.config,
                 "stages": [name for name, label in planned if label == g.name]} for g in spec.generators]
        return outcome

    def _resolve_inputs(self, spec: ExperimentSpec, reporter: Reporter) -> dict[str, Any]:
        """The run's artifacts by name (the shared ones, then the scenario's) and its bookkeeping: the lab's
        summary, what each condition is tuned on, the positive control's plant."""
        lab, lab_summary = self._lab_provider(spec.lab, reporter) if spec.uses_lab() else ({}, {})
        refs = _LabRefs(lab)
        prompts = self.rows(refs.dataset(spec.data.prompts), spec.data, "prompt_rows")
        inputs: dict[str, Any] = {"target": refs.model(spec.target), "prompts": prompts, "lab_summary": lab_summary,
                                  "training": {}, "planted": {}}
        if "original" in spec.conditions:
            inputs["training"]["original"] = self.describe(prompts, "data.prompts (the control data)")
        if spec.generated_conditions():
            for label, generator in generator_variants(spec):
                inputs[unit_name("generator", label)] = refs.model(generator.model)
            inputs["generation_source"] = (refs.dataset(spec.data.seed_tasks) if spec.generation_task() == "self_instruct"
                                           else prompts)
        get_scenario(spec.scenario).resolve_inputs(spec, inputs, self, refs)
        return inputs

    # ---- what a scenario may use (scenarios.base.Runner)

    @property
    def attacker(self) -> Any:
        """The attacker service's client, for the scenarios' attacks."""
        return self._clients.attacker

    def rows(self, ref: common_pb2.ArtifactRef, data: DataSpec, which: str) -> common_pb2.ArtifactRef:
        """The rows `data.<which>` names, as they are (repeats included), as a content-keyed dataset."""
        rows = data.row_slice(which)
        if rows is None:
            return ref
        store = self.store(f"data.{which}")
        source = ref_from_proto(ref)
        key = sha256_bytes(canonical_json([source.sha256 or source.uri, getattr(data, which)]).encode())[:32]
        uri = store.uri_for("inputs", "rows", key)
        existing = store.lookup(uri)
        if existing is None:
            records = load_records(store, source, f"data.{which}")[rows]
            if not records:
                raise InvalidSpec(f"rows {getattr(data, which)} select nothing from {source.uri}", field=f"data.{which}")
            existing = publish_records(store, records, uri, meta={"source": source.uri, "rows": getattr(data, which)})
        return ref_to_proto(existing)

    def records(self, ref: common_pb2.ArtifactRef, where: str) -> list[dict[str, Any]]:
        return load_records(self.store(where), ref_from_proto(ref), where)

    def publish_input(self, kind: str, records: list[dict[str, Any]], key_parts: list[Any],
                      meta: dict[str, Any]) -> common_pb2.ArtifactRef:
        """A dataset the controller derives from its inputs, keyed by what it was derived from."""
        store = self.store(kind)
        uri = store.uri_for("inputs", kind, sha256_bytes(canonical_json(key_parts).encode())[:32])
        existing = store.lookup(uri)
        return ref_to_proto(existing if existing is not None else publish_records(store, records, uri, meta=meta))

    def describe(self, ref: common_pb2.ArtifactRef, what: str, records: int | None = None) -> dict[str, Any]:
        if records is None:
            records = len(self.records(ref, what)) if self._store is not None else None
        return {"dataset": ref.uri, "records": records, "what": what}

    def store(self, what: str) -> ArtifactStore:
        if self._store is None:
            raise RuntimeError(f"{what} need the runner's artifact store")
        return self._store

    def _sharding_store(self) -> ArtifactStore:
        return self.store("sharded jobs")

    def _schedule(self, spec, inputs, pool: ThreadPoolExecutor, progress: "_StageProgress", clock: StageClock,
                  generation: dict[str, Any]) -> tuple[list[Future], list[Future]]:
        c = self._clients
        attacks: list[Future] = []
        leakage: list[Future] = []
        scenario = get_scenario(spec.scenario)

        def attack(condition: str, label: str, setting: Setting | None, epoch: int, model_uri: str) -> dict[str, Any]:
            name = stage_name("attack", unit_name(condition, label), setting, None if condition == "base" else epoch)
            result = clock.timed(name, lambda: scenario.attack(spec, inputs, model_uri, self, progress.follow(name)))
            clock.record_compute(name, result.get("compute"))
            progress.stage_done(name)
            return {"condition": condition, **_generator_field(label), "epoch": epoch, "model": model_uri,
                    **_setting_fields(setting), **result}

        def tuned(condition: str, label: str, setting: Setting,
                  dataset_future: Callable[[], common_pb2.ArtifactRef]) -> dict[int, common_pb2.ArtifactRef]:
            dataset = dataset_future()
            name = stage_name("finetune", unit_name(condition, label), setting)
            ckpts = clock.timed(name, lambda: stages.finetune(c.finetuner, spec.finetune, setting, inputs["target"],
                                                              dataset, data_format(spec, condition),
                                                              progress.follow(name),
                                                              on_compute=lambda r: clock.record_compute(name, r)))
            progress.stage_done(name)
            return ckpts

        def scan(condition: str, label: str, setting: Setting | None, checkpoints: Future | None,
                 dataset_future: Callable[[], common_pb2.ArtifactRef] | None):
            epoch = spec.finetune.epochs if checkpoints is not None else 0
            model_uri = checkpoints.result()[epoch].uri if checkpoints is not None else inputs["target"]
            dataset = dataset_future() if dataset_future is not None else None
            training_texts = dataset if condition in GENERATED_CONDITIONS and spec.leakage.scan_training_data else None
            name = stage_name("leakage", unit_name(condition, label), setting)
            result = clock.timed(name, lambda: stages.leakage_scan(
                c.attacker, spec.leakage, spec.attack.engine, model_uri, inputs.get("people"),
                [dataset] if dataset is not None else [], training_texts, progress.follow(name)))
            clock.record_compute(name, result.get("compute"))
            progress.stage_done(name)
            return {"condition": condition, **_generator_field(label), "epoch": epoch, "model": model_uri,
                    **_setting_fields(setting), **result}

        generated = {(condition, label): pool.submit(self._generate, spec, inputs, condition, progress, clock,
                                                     generation, generator, label)
                     for label, generator in generator_variants(spec) for condition in spec.generated_conditions()}
        if "base" in spec.conditions:
            attacks.append(pool.submit(attack, "base", "", None, 0, inputs["target"]))
            if spec.scans_leakage():
                leakage.append(pool.submit(scan, "base", "", None, None, None))
        for condition in TUNED_ORDER:
            if condition not in spec.conditions:
                continue
            for label in _labels(spec, condition):
                source = {"original": lambda: inputs["prompts"], control.PLANTED: lambda: inputs["planted_data"]}.get(
                    condition) or generated[(condition, label)].result
                for setting in spec.finetune.settings():
                    ckpt_future = pool.submit(tuned, condition, label, setting, source)
                    for epoch in scenario.attacked_epochs(spec):
                        attacks.append(pool.submit(lambda cond=condition, g=label, s=setting, e=epoch, f=ckpt_future:
                                                   attack(cond, g, s, e, f.result()[e].uri)))
                    if spec.scans_leakage() and condition != control.PLANTED:
                        leakage.append(pool.submit(scan, condition, label, setting, ckpt_future, source))
        return attacks, leakage

    def _generate(self, spec, inputs, condition: str, progress: "_StageProgress", clock: StageClock,
                  generation: dict[str, Any], generator: GeneratorSpec | None = None,
                  label: str = "") -> common_pb2.ArtifactRef:
        """One generated condition's data from one generator (`generator`: spec.generator unless given; `label`:
        its name in a `generators:` spec, "" otherwise)."""
        generator = generator if generator is not None else spec.generator
        name = generation_stage(condition, label)
        args = (self._clients.generator, generator, inputs[unit_name("generator", label)], inputs["generation_source"],
                progress.follow(name))
        scrub = condition == "generated-scrubbed"
        if generator.shards > 1:  # the spec allows shards for continuation only
            ref, stats = clock.timed(name, lambda: sharding.generate_dataset(self._sharding_store(), *args,
                                                                             scrub=scrub))
        else:
            ref, stats = clock.timed(name, lambda: stages.generate_dataset(*args, scrub=scrub))
        clock.record_compute(name, stats.get("compute"))
        progress.stage_done(name)
        entry = {"task": generator.task, "dataset": ref.uri, "stats": stats}
        if label:
            entry.update(condition=condition, generator=label)
        generation[unit_name(condition, label)] = entry
        return ref


def _setting_fields(setting: Setting | None) -> dict[str, Any]:
    """What a result records of its sweep setting (nothing for the base model)."""
    if setting is None:
        return {}
    return {"setting": {"method": setting.method, "learning_rate": setting.learning_rate, "seed": setting.seed},
            "setting_label": setting.label, "setting_group": setting.group}


class _LabRefs:
    """One run's references made concrete: `lab:<name>` is the built lab's artifact, anything else is
    used as it is (scenarios.base.LabRefs)."""

    def __init__(self, lab: dict[str, ArtifactRef]):
        self._lab = lab

    def _lab_ref(self, ref: str) -> ArtifactRef:
        if ref[4:] not in self._lab:
            raise InvalidSpec(f"the lab has no {ref[4:]!r}; it has {', '.join(sorted(self._lab))}", field=ref)
        return self._lab[ref[4:]]

    def dataset(self, ref: str) -> common_pb2.ArtifactRef:
        return ref_to_proto(self._lab_ref(ref)) if ref.startswith("lab:") else common_pb2.ArtifactRef(uri=ref)

    def model(self, ref: str) -> str:
        return self._lab_ref(ref).uri if ref.startswith("lab:") else ref


LAB_STAGE = "lab"  # building (or finding) the built-in lab; not counted in the progress's stages


def plan_stages(spec: ExperimentSpec) -> list[str]:
    """The stages one target's run goes through, by the names the report's stage_seconds use, in the order
    `_schedule` submits them (they run side by side as their inputs allow): the lab when the spec uses it,
    each generation, then base's attack and scan, then per tuned condition (and generator) and setting its
    fine-tune, the attack of each attacked checkpoint and its scan."""
    return [name for name, _ in _planned_stages(spec)]


def _planned_stages(spec: ExperimentSpec) -> list[tuple[str, str]]:
    """plan_stages with the generator label of each stage ("" for the stages every generator shares)."""
    names = [(LAB_STAGE, "")] if spec.uses_lab() else []
    names += [(generation_stage(c, label), label) for label, _ in generator_variants(spec)
              for c in spec.generated_conditions()]
    if "base" in spec.conditions:
        names.append((stage_name("attack", "base", None), ""))
        names += [(stage_name("leakage", "base", None), "")] if spec.scans_leakage() else []
    epochs = get_scenario(spec.scenario).attacked_epochs(spec)
    for condition in (c for c in TUNED_ORDER if c in spec.conditions):
        for label in _labels(spec, condition):
            unit = unit_name(condition, label)
            for setting in spec.finetune.settings():
                names.append((stage_name("finetune", unit, setting), label))
                names += [(stage_name("attack", unit, setting, epoch), label) for epoch in epochs]
                if spec.scans_leakage() and condition != control.PLANTED:
                    names.append((stage_name("leakage", unit, setting), label))
    return names


def experiment_plan(spec: ExperimentSpec) -> list[str]:
    """Every stage of the experiment by the name the journal records it under: one target's stages as
    they are; with several targets each target's stages as `<target>: <stage>`, the lab (shared) once."""
    if not spec.targets:
        return plan_stages(spec)
    per_target = [(t, plan_stages(spec.for_target(t))) for t in spec.targets]
    lab = [LAB_STAGE] if any(LAB_STAGE in names for _, names in per_target) else []
    return lab + [f"{t}: {name}" for t, names in per_target for name in names if name != LAB_STAGE]


def _count_stages(spec: ExperimentSpec) -> int:
    """The progress's total: every planned stage but the lab."""
    return len([name for name in plan_stages(spec) if name != LAB_STAGE])


class _StageProgress:
    """Folds the progress of concurrent service jobs into the controller job's progress."""

    def __init__(self, reporter: Reporter, total: int, on_stage_done: Callable[[str], None] | None = None):
        self._reporter = reporter
        self._total = total
        self._on_stage_done = on_stage_done
        self._done = 0
        self._lock = threading.Lock()

    def follow(self, name: str) -> Callable[[common_pb2.Job], None]:
        def on_update(job: common_pb2.Job) -> None:
            p = job.progress
            detail = f"{name}: {p.stage} {p.message or f'{p.done}/{p.total}'}".strip()
            with self._lock:
                self._reporter.update("experiment", self._done, self._total, detail)

        return on_update

    def stage_done(self, name: str) -> None:
        with self._lock:
            self._done += 1
            try:
                self._reporter.update("experiment", self._done, self._total, f"{name}: done")
            finally:  # recorded even when the update finds the run cancelled: the outputs are published
                if self._on_stage_done is not None:
                    self._on_stage_done(name)
