"""Attacker core, PII scan: the StartPIIScan job and the synchronous DetectPII call.

Job outputs: a `findings` dataset (one row per detection: source, row, type, span, score,
masked value, salted value id, real, in fine-tuning data; raw values and texts only with
`reveal`), with `reveal` also a `samples` dataset of the generations, and a result holding the
per-source, per-type table (counts only) and the job's compute (the sampling engine's device and
dtype; the CPU when only a dataset is scanned). Nothing in the result or logs shows a raw value.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Sequence

from pydantic import Field, model_validator

from genleak.attacker.pii_scan.inventory import (
    FinetuneIndex, Inventory, field_texts, inventory_from_detections, inventory_from_people, record_texts,
)
from genleak.attacker.pii_scan.sampling import Sample, generate_samples
from genleak.attacker.pii_scan.scan import Finding, count_by_type, match_findings, planted_recall, table
from genleak.contracts.pii_scan import (
    DetectionParams, DetectPIIParams, InventorySpec, PIISampling, PIIScanParams, PIIScanResult,
)
from genleak.core.datasets import load_records, publish_records, require_dataset
from genleak.core.errors import InvalidSpec
from genleak.core.jobs import JobOutput
from genleak.core.models import require_model, resolve_model
from genleak.core.pii_mask import mask_value, pii_id, salt_fingerprint
from genleak.core.progress import NULL_REPORTER, Reporter
from genleak.core.specs import ArtifactSpec, ModelSpec
from genleak.core.store import ArtifactRef, ArtifactStore
from genleak.engines import EngineCache
from genleak.presidio.analyzer import PIIAnalyzer, get_analyzer

log = logging.getLogger(__name__)

TEXTS = "texts"  # the source name of a scanned dataset (as opposed to model samples)
_INVENTORIES: dict[str, Inventory] = {}  # DetectPII: corpus inventories are costly, build each once
_MAX_INVENTORIES = 4
_INVENTORY_LOCK = threading.Lock()


class PIIScanJobSpec(PIIScanParams):
    """The PII-scan contract's params plus what the job reads."""

    model: ModelSpec | None = Field(None, description="Model to sample (unconditioned and/or prompted)")
    texts: ArtifactSpec | None = Field(None, description="Dataset to scan as is (e.g. the corpus: recall is reported)")
    inventory: InventorySpec | None = Field(None, description="Real PII; without it only detections are counted")
    finetune: list[ArtifactSpec] = Field(default_factory=list,
                                         description="Fine-tuning datasets: real values absent from them leaked "
                                                     "from pretraining")

    @model_validator(mode="after")
    def _sources(self) -> "PIIScanJobSpec":
        if self.model is None and self.texts is None:
            raise InvalidSpec("name a model to sample or a texts dataset to scan", field="model")
        if self.model is None and self.samples is not None:
            raise InvalidSpec("samples need a model", field="model")
        if self.model is not None and self.samples is None:
            object.__setattr__(self, "samples", PIISampling())  # the full form is the identity
        return self


class DetectPIISpec(DetectPIIParams):
    texts: list[str] = Field(min_length=1, max_length=256)
    inventory: InventorySpec | None = None


def preflight_pii_scan(store: ArtifactStore, spec: PIIScanJobSpec) -> None:
    if spec.model is not None:
        require_model(store, spec.model.uri, allow_pickle=spec.model.allow_pickle)
    for where, ref in _datasets(spec):
        require_dataset(store, ref.uri, f"{where}.uri")


def run_pii_scan(store: ArtifactStore, engines: EngineCache, spec: PIIScanJobSpec, salt: str, root: str,
                 reporter: Reporter) -> JobOutput:
    from genleak.compute.device import ComputeMeter, pick_device  # torch-side: loaded when a job runs

    seconds: dict[str, float] = {}
    samples: list[Sample] = []
    provenance = None  # the sampling engine's, when a model is sampled
    # Without a model only Presidio computes, and spaCy runs on the CPU.
    with ComputeMeter(pick_device() if spec.model is not None else "cpu") as meter:
        started = time.perf_counter()
        if spec.model is not None:
            samples, provenance = _sample(store, engines, spec, reporter)
        seconds["sample"] = time.perf_counter() - started
        sources = _texts_by_source(store, spec, samples)
        analyzer = get_analyzer(spec.analyzer)
        inventory = (load_inventory(store, spec.inventory, analyzer, spec.detection, reporter)
                     if spec.inventory else None)
        finetune = _finetune_index(store, spec) if spec.finetune else None
        started = time.perf_counter()
        all_texts = [t for texts in sources.values() for t in texts]
        detections = analyzer.detect(all_texts, spec.detection.batch_size, spec.detection.n_process, reporter)
        seconds["detect"] = time.perf_counter() - started
    compute = meter.engine_record(provenance) if provenance is not None else meter.record(precision=None)
    findings = match_findings(detections, inventory, finetune)
    by_source = _split(findings, sources)
    artifacts = {"findings": publish_records(
        store, _finding_rows(by_source, samples, sources, salt, spec.reveal), f"{root}/findings",
        meta={"contains_pii": spec.reveal, "masked": not spec.reveal, "pii_salt": salt_fingerprint(salt)})}
    if spec.reveal and samples:
        artifacts["samples"] = publish_records(
            store, [{"source": s.source, "row": s.row, "prompt": s.prompt, "text": s.text} for s in samples],
            f"{root}/samples", meta={"contains_pii": True})
    summary = {**_summary(spec, sources, by_source, inventory, finetune, analyzer, salt, seconds),
               "compute": compute.model_dump(mode="json")}
    result = PIIScanResult.model_validate(summary).model_dump(mode="json", exclude_unset=True)
    log.info("pii scan: %s", {src: {t: (r["detected"], r["real"]) for t, r in v["entities"].items()}
                              for src, v in result["sources"].items()})
    return JobOutput(artifacts=artifacts, result=result)


def detect_pii(store: ArtifactStore, spec: DetectPIISpec, salt: str,
               reporter: Reporter = NULL_REPORTER) -> list[list[dict[str, Any]]]:
    """Entities per text: type, span, score, masked value, value id; `real` with an inventory;
    the raw value only with `reveal`."""
    analyzer = get_analyzer(spec.analyzer)
    inventory = None
    if spec.inventory is not None:
        key = f"{spec.inventory.spec_hash()}:{spec.analyzer.spec_hash()}"
        with _INVENTORY_LOCK:
            inventory = _INVENTORIES.get(key)
        if inventory is None:
            inventory = load_inventory(store, spec.inventory, analyzer, spec.detection, reporter)
            with _INVENTORY_LOCK:
                _INVENTORIES[key] = inventory
                while len(_INVENTORIES) > _MAX_INVENTORIES:
                    del _INVENTORIES[next(iter(_INVENTORIES))]
    detections = analyzer.detect(spec.texts, spec.detection.batch_size, spec.detection.n_process, reporter)
    return [[entity_row(f, salt, spec.reveal) for f in per_text]
            for per_text in match_findings(detections, inventory, None)]


def entity_row(finding: Finding, salt: str, reveal: bool) -> dict[str, Any]:
    d = finding.detection
    row: dict[str, Any] = {"type": d.entity_type, "start": d.start, "end": d.end, "score": round(d.score, 4),
                           "recognizer": d.recognizer, "masked": mask_value(d.entity_type, d.value),
                           "value_id": pii_id(d.entity_type, d.value, salt)}
    if finding.real is not None:
        row["real"] = finding.real
    if finding.in_finetune is not None:
        row["in_finetune"] = finding.in_finetune
    if reveal:
        row["value"] = d.value
    return row


def load_inventory(store: ArtifactStore, spec: InventorySpec, analyzer: PIIAnalyzer, params: DetectionParams,
                   reporter: Reporter) -> Inventory:
    parts = []
    if spec.people is not None:
        people = load_records(store, _ref(spec.people), "inventory.people")
        _check_people_fields(people, spec.people_fields)
        parts.append(inventory_from_people(people, spec.people_fields))
    if spec.corpus is not None:
        corpus = field_texts(load_records(store, _ref(spec.corpus), "inventory.corpus"), spec.corpus_field,
                             "inventory.corpus_field")
        parts.append(inventory_from_detections(analyzer.detect(corpus, params.batch_size, params.n_process, reporter)))
    inventory = parts[0]
    for part in parts[1:]:
        inventory = inventory.union(part)
    return inventory


def _check_people_fields(people: Sequence[dict], fields: dict[str, str]) -> None:
    for entity_type, name in fields.items():
        if people and not any(name in p for p in people):
            raise InvalidSpec(f"no people record has the field {name!r} (for {entity_type})",
                              field="inventory.people_fields")


def _sample(store: ArtifactStore, engines: EngineCache, spec: PIIScanJobSpec,
            reporter: Reporter) -> tuple[list[Sample], dict[str, Any]]:
    """The model's samples, and the engine's provenance (which engine, dtype and device wrote them)."""
    assert spec.model is not None and spec.samples is not None
    prompts = (load_records(store, _ref(spec.samples.prompts), "samples.prompts")
               if spec.samples.prompts is not None else None)
    model_dir = resolve_model(store, spec.model)
    engine_config = spec.engine.model_copy(update={"trust_remote_code": spec.model.trust_remote_code})
    with engines.lease(model_dir, engine_config) as engine:
        samples = generate_samples(engine, model_dir, spec.samples, prompts, engine_config.batch_size, reporter)
        return samples, getattr(engine, "provenance", {"engine": engine_config.name})


def _texts_by_source(store: ArtifactStore, spec: PIIScanJobSpec, samples: list[Sample]) -> dict[str, list[str]]:
    sources: dict[str, list[str]] = {}
    for sample in samples:
        sources.setdefault(sample.source, []).append(sample.text)
    if spec.texts is not None:
        sources[TEXTS] = field_texts(load_records(store, _ref(spec.texts), "texts"), spec.text_field, "text_field")
    return sources


def _finetune_index(store: ArtifactStore, spec: PIIScanJobSpec) -> FinetuneIndex:
    texts: list[str] = []
    for i, ref in enumerate(spec.finetune):
        texts += record_texts(load_records(store, _ref(ref), f"finetune.{i}"), spec.finetune_fields)
    return FinetuneIndex(texts)


def _split(findings: list[list[Finding]], sources: dict[str, list[str]]) -> dict[str, list[list[Finding]]]:
    out, begin = {}, 0
    for name, texts in sources.items():
        out[name] = findings[begin:begin + len(texts)]
        begin += len(texts)
    return out


def _finding_rows(by_source: dict[str, list[list[Finding]]], samples: list[Sample], sources: dict[str, list[str]],
                  salt: str, reveal: bool) -> list[dict[str, Any]]:
    rows_of = {}
    for sample in samples:
        rows_of.setdefault(sample.source, []).append(sample.row)
    out = []
    for source, per_source in by_source.items():
        rows = rows_of.get(source, range(len(sources[source])))
        for i, per_text in enumerate(per_source):
            out += [{"source": source, "sample": i, "row": rows[i], **entity_row(f, salt, reveal)} for f in per_text]
    return out


def _summary(spec: PIIScanJobSpec, sources: dict[str, list[str]], by_source: dict[str, list[list[Finding]]],
             inventory: Inventory | None, finetune: FinetuneIndex | None, analyzer: PIIAnalyzer, salt: str,
             seconds: dict[str, float]) -> dict[str, Any]:
    tables = {}
    for source, findings in by_source.items():
        recall = (planted_recall(sources[source], findings, inventory)
                  if source == TEXTS and inventory is not None and inventory.surfaces else None)
        tables[source] = {"n_texts": len(sources[source]),
                          "entities": table(count_by_type(findings, spec.analyzer.entities), recall)}
    return {
        "sources": tables,
        "inventory": {"source": inventory.source, "sizes": inventory.sizes()} if inventory is not None else None,
        "finetune": {"datasets": len(spec.finetune), "texts": finetune.n_texts if finetune else 0},
        "analyzer": {"config_hash": spec.analyzer.spec_hash(), "recognizers": analyzer.recognizer_names},
        "pii_salt": salt_fingerprint(salt), "masked": not spec.reveal,
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
    }


def _datasets(spec: PIIScanJobSpec) -> list[tuple[str, ArtifactSpec]]:
    found: list[tuple[str, ArtifactSpec | None]] = [("texts", spec.texts)]
    if spec.samples is not None:
        found.append(("samples.prompts", spec.samples.prompts))
    if spec.inventory is not None:
        found += [("inventory.people", spec.inventory.people), ("inventory.corpus", spec.inventory.corpus)]
    found += [(f"finetune.{i}", ref) for i, ref in enumerate(spec.finetune)]
    return [(where, ref) for where, ref in found if ref is not None]


def _ref(spec: ArtifactSpec) -> ArtifactRef:
    return ArtifactRef(spec.uri, spec.sha256, "dataset")
