"""Runs one experiment spec through the services: the stages form a small DAG run on threads.

base attack, original fine-tune and generation (plain and scrubbed) start at once; a generated
condition's fine-tune waits for its generation; each checkpoint's attack waits for its fine-tune;
each condition's leakage scan waits for its last checkpoint. Services queue their own jobs, so the
controller's threads mostly wait on gRPC streams.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from genleak.controller import sharding, stages
from genleak.controller.clients import ServiceClients
from genleak.controller.spec import GENERATED_CONDITIONS, DataSpec, ExperimentSpec, LabSpec
from genleak.controller.sweep import Setting, stage_name
from genleak.core.builtin_data import is_builtin_few_shot, publish_builtin_few_shot
from genleak.core.datasets import load_records, publish_records
from genleak.core.errors import InvalidSpec
from genleak.core.hashing import canonical_json, sha256_bytes
from genleak.core.progress import Reporter
from genleak.core.store import ArtifactRef, ArtifactStore
from genleak.rpc.convert import ref_from_proto, ref_to_proto
from genleak.v1 import common_pb2

log = logging.getLogger(__name__)

# Returns the lab's artifact refs by name and its summary (lab.json: stats, memorisation).
LabProvider = Callable[[LabSpec, Reporter], tuple[dict[str, ArtifactRef], dict[str, Any]]]
TUNED_ORDER = ("original", *GENERATED_CONDITIONS)


def data_format(spec: ExperimentSpec, condition: str) -> str:
    if condition not in GENERATED_CONDITIONS:
        return "prompt_continuation"
    return spec.finetune.instruction_format if spec.generator.task == "self_instruct" else "text"


@dataclass
class StageClock:
    """Wall time per stage, for the report's provenance."""

    seconds: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(self, name: str, fn: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        try:
            return fn()
        finally:
            with self._lock:
                self.seconds[name] = round(time.perf_counter() - started, 2)


class ExperimentRunner:
    def __init__(self, clients: ServiceClients, lab_provider: LabProvider, store: ArtifactStore | None = None):
        """`store` is needed to shard jobs (generator.shards, mia.shards > 1): the controller slices
        their inputs and merges their outputs there (controller.sharding)."""
        self._clients = clients
        self._lab_provider = lab_provider
        self._store = store

    def run(self, spec: ExperimentSpec, reporter: Reporter) -> dict[str, Any]:
        clock = StageClock()
        inputs = clock.timed("lab", lambda: self._resolve_inputs(spec, reporter))
        progress = _StageProgress(reporter, total=_count_stages(spec))
        generation: dict[str, Any] = {}
        with ThreadPoolExecutor(max_workers=16, thread_name_prefix="genleak-stage") as pool:
            attacks, leakage = self._schedule(spec, inputs, pool, progress, clock, generation)
            results = [future.result() for future in attacks]
            scans = [future.result() for future in leakage]
        lab_summary = inputs.pop("lab_summary")
        return {"attacks": results, "leakage": scans, "stage_seconds": clock.seconds, "lab": lab_summary,
                "inputs": {k: v if isinstance(v, str) else v.uri for k, v in inputs.items()},
                "input_sha256": {k: v.sha256 for k, v in inputs.items() if not isinstance(v, str) and v.sha256},
                "generation": generation}

    def _resolve_inputs(self, spec: ExperimentSpec, reporter: Reporter) -> dict[str, Any]:
        lab, lab_summary = self._lab_provider(spec.lab, reporter) if spec.uses_lab() else ({}, {})

        def dataset(ref: str) -> common_pb2.ArtifactRef:
            return ref_to_proto(lab[ref[4:]]) if ref.startswith("lab:") else common_pb2.ArtifactRef(uri=ref)

        def model(ref: str) -> str:
            return lab[ref[4:]].uri if ref.startswith("lab:") else ref

        prompts = self._rows(dataset(spec.data.prompts), spec.data, "prompt_rows")
        inputs: dict[str, Any] = {"target": model(spec.target), "generator": model(spec.generator.model),
                                  "prompts": prompts, "lab_summary": lab_summary}
        if spec.generated_conditions():
            inputs["generation_source"] = (dataset(spec.data.seed_tasks) if spec.generator.task == "self_instruct"
                                           else prompts)
        if spec.scenario == "extraction":
            few_shot = spec.data.few_shot
            inputs.update(pii_targets=self._rows(dataset(spec.data.pii_targets), spec.data, "target_rows"),
                          few_shot=ref_to_proto(publish_builtin_few_shot(self._required_store("built-in few_shot"),
                                                                         few_shot))
                          if is_builtin_few_shot(few_shot) else dataset(few_shot))
            if spec.attack.perplexity_dataset:
                inputs["perplexity_texts"] = dataset(spec.attack.perplexity_dataset)
            if spec.scans_leakage() and spec.data.people:
                inputs["people"] = dataset(spec.data.people)
        else:
            inputs.update(members=dataset(spec.mia.members), nonmembers=dataset(spec.mia.nonmembers))
            if spec.mia.perplexity_dataset:
                inputs["perplexity"] = dataset(spec.mia.perplexity_dataset)
            if spec.mia.reference_model:
                inputs["reference"] = model(spec.mia.reference_model)
        return inputs

    def _rows(self, ref: common_pb2.ArtifactRef, data: DataSpec, which: str) -> common_pb2.ArtifactRef:
        """The rows `data.<which>` names, as they are (repeats included), as a content-keyed dataset."""
        rows = data.row_slice(which)
        if rows is None:
            return ref
        store = self._required_store(f"data.{which}")
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

    def _evaluate(self, spec: ExperimentSpec, inputs: dict[str, Any], model_uri: str, on_update) -> dict[str, Any]:
        """The scenario's attack on one model: extraction counts or MIA metrics."""
        c = self._clients
        if spec.scenario == "extraction":
            return stages.extract(c.attacker, spec.attack, model_uri, inputs["pii_targets"], inputs["few_shot"],
                                  on_update, inputs.get("perplexity_texts"))
        datasets = {k: inputs[k] for k in ("members", "nonmembers", "perplexity") if k in inputs}
        if spec.mia.shards > 1:
            return sharding.membership(self._sharding_store(), c.attacker, spec.mia, model_uri, datasets,
                                       inputs.get("reference"), on_update)
        return stages.membership(c.attacker, spec.mia, model_uri, datasets, inputs.get("reference"), on_update)

    def _sharding_store(self) -> ArtifactStore:
        return self._required_store("sharded jobs")

    def _required_store(self, what: str) -> ArtifactStore:
        if self._store is None:
            raise RuntimeError(f"{what} need the runner's artifact store")
        return self._store

    def _schedule(self, spec, inputs, pool: ThreadPoolExecutor, progress: "_StageProgress", clock: StageClock,
                  generation: dict[str, Any]) -> tuple[list[Future], list[Future]]:
        c = self._clients
        attacks: list[Future] = []
        leakage: list[Future] = []

        def attack(condition: str, setting: Setting | None, epoch: int, model_uri: str) -> dict[str, Any]:
            name = stage_name("attack", condition, setting, None if condition == "base" else epoch)
            result = clock.timed(name, lambda: self._evaluate(spec, inputs, model_uri, progress.follow(name)))
            progress.stage_done(name)
            return {"condition": condition, "epoch": epoch, "model": model_uri, **_setting_fields(setting), **result}

        def tuned(condition: str, setting: Setting,
                  dataset_future: Callable[[], common_pb2.ArtifactRef]) -> dict[int, common_pb2.ArtifactRef]:
            dataset = dataset_future()
            name = stage_name("finetune", condition, setting)
            ckpts = clock.timed(name, lambda: stages.finetune(c.finetuner, spec.finetune, setting, inputs["target"],
                                                              dataset, data_format(spec, condition),
                                                              progress.follow(name)))
            progress.stage_done(name)
            return ckpts

        def scan(condition: str, setting: Setting | None, checkpoints: Future | None,
                 dataset_future: Callable[[], common_pb2.ArtifactRef] | None):
            epoch = spec.finetune.epochs if checkpoints is not None else 0
            model_uri = checkpoints.result()[epoch].uri if checkpoints is not None else inputs["target"]
            dataset = dataset_future() if dataset_future is not None else None
            training_texts = dataset if condition in GENERATED_CONDITIONS and spec.leakage.scan_training_data else None
            name = stage_name("leakage", condition, setting)
            result = clock.timed(name, lambda: stages.leakage_scan(
                c.attacker, spec.leakage, spec.attack.engine, model_uri, inputs.get("people"),
                [dataset] if dataset is not None else [], training_texts, progress.follow(name)))
            progress.stage_done(name)
            return {"condition": condition, "epoch": epoch, "model": model_uri, **_setting_fields(setting), **result}

        generated = {condition: pool.submit(self._generate, spec, inputs, condition, progress, clock, generation)
                     for condition in spec.generated_conditions()}
        if "base" in spec.conditions:
            attacks.append(pool.submit(attack, "base", None, 0, inputs["target"]))
            if spec.scans_leakage():
                leakage.append(pool.submit(scan, "base", None, None, None))
        for condition in TUNED_ORDER:
            if condition not in spec.conditions:
                continue
            source = (lambda: inputs["prompts"]) if condition == "original" else generated[condition].result
            for setting in spec.finetune.settings():
                ckpt_future = pool.submit(tuned, condition, setting, source)
                for epoch in _attacked_epochs(spec):
                    attacks.append(pool.submit(lambda cond=condition, s=setting, e=epoch, f=ckpt_future:
                                               attack(cond, s, e, f.result()[e].uri)))
                if spec.scans_leakage():
                    leakage.append(pool.submit(scan, condition, setting, ckpt_future, source))
        return attacks, leakage

    def _generate(self, spec, inputs, condition: str, progress: "_StageProgress", clock: StageClock,
                  generation: dict[str, Any]) -> common_pb2.ArtifactRef:
        name = "generate" if condition == "generated" else f"generate[{condition}]"
        args = (self._clients.generator, spec.generator, inputs["generator"], inputs["generation_source"],
                progress.follow(name))
        scrub = condition == "generated-scrubbed"
        if spec.generator.shards > 1:  # the spec allows shards for continuation only
            ref, stats = clock.timed(name, lambda: sharding.generate_dataset(self._sharding_store(), *args,
                                                                             scrub=scrub))
        else:
            ref, stats = clock.timed(name, lambda: stages.generate_dataset(*args, scrub=scrub))
        progress.stage_done(name)
        generation[condition] = {"task": spec.generator.task, "dataset": ref.uri, "stats": stats}
        return ref


def _setting_fields(setting: Setting | None) -> dict[str, Any]:
    """What a result records of its sweep setting (nothing for the base model)."""
    if setting is None:
        return {}
    return {"setting": {"method": setting.method, "learning_rate": setting.learning_rate, "seed": setting.seed},
            "setting_label": setting.label, "setting_group": setting.group}


def _attacked_epochs(spec: ExperimentSpec) -> list[int]:
    epochs = spec.finetune.epochs
    which = spec.attack.checkpoints if spec.scenario == "extraction" else spec.mia.checkpoints
    return list(range(1, epochs + 1)) if which == "all" else [epochs]


def _count_stages(spec: ExperimentSpec) -> int:
    tuned = len([c for c in spec.conditions if c != "base"]) * len(spec.finetune.settings())
    base = "base" in spec.conditions
    scans = (tuned + base) if spec.scans_leakage() else 0
    return len(spec.generated_conditions()) + tuned + base + tuned * len(_attacked_epochs(spec)) + scans


class _StageProgress:
    """Folds the progress of concurrent service jobs into the controller job's progress."""

    def __init__(self, reporter: Reporter, total: int):
        self._reporter = reporter
        self._total = total
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
            self._reporter.update("experiment", self._done, self._total, f"{name}: done")
