"""Attacker core, e-mail extraction: job spec, inputs from the store, outputs to the store.

Outputs: an `outputs` dataset (one row per queried target and template, with the generated text: it
holds real PII, so it stays in the store, never in RPC results or reports) and a small result (counts
per template x temperature; the model's held-out perplexity beside them when a dataset is named; the
job's compute: the engine's device and dtype, and the peak memory).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from genleak.attacker.extraction.attack import run_extraction
from genleak.contracts.extraction import ExtractionJobResult, ExtractionParams
from genleak.core.datasets import load_records, publish_records, require_dataset
from genleak.core.jobs import JobOutput
from genleak.core.models import require_model, resolve_model
from genleak.core.progress import Reporter
from genleak.core.specs import ArtifactSpec, ModelSpec
from genleak.core.store import ArtifactRef, ArtifactStore
from genleak.engines import EngineCache


class ExtractionJobSpec(ExtractionParams):
    """The extraction contract's params plus what the job reads."""

    model: ModelSpec
    targets: ArtifactSpec
    few_shot: ArtifactSpec
    perplexity_dataset: ArtifactSpec | None = Field(None, description="Held-out texts: the model's perplexity "
                                                                      "(utility) is reported beside the attack")


def preflight_extraction(store: ArtifactStore, spec: ExtractionJobSpec) -> None:
    require_model(store, spec.model.uri, allow_pickle=spec.model.allow_pickle)
    require_dataset(store, spec.targets.uri, "targets.uri")
    require_dataset(store, spec.few_shot.uri, "few_shot.uri")
    if spec.perplexity_dataset is not None:
        require_dataset(store, spec.perplexity_dataset.uri, "perplexity_dataset.uri")


def run_extraction_job(store: ArtifactStore, engines: EngineCache, spec: ExtractionJobSpec, root: str,
                       reporter: Reporter) -> JobOutput:
    from genleak.compute.device import ComputeMeter, pick_device  # torch-side: loaded when a job runs

    targets = load_records(store, _ref(spec.targets), "targets")
    few_shot = load_records(store, _ref(spec.few_shot), "few_shot")
    model_dir = resolve_model(store, spec.model)
    engine_config = spec.engine.model_copy(update={"trust_remote_code": spec.model.trust_remote_code})
    with ComputeMeter(pick_device()) as meter:
        with engines.lease(model_dir, engine_config) as engine:
            result = run_extraction(engine, targets, few_shot, spec.attack, reporter)
            provenance = getattr(engine, "provenance", {"engine": engine_config.name})
        # The per-target rows hold real PII: they stay in the store, never in RPC results or reports.
        outputs = publish_records(store, result.row_dicts(), f"{root}/outputs",
                                  meta={"contains_pii": True, "model": spec.model.uri})
        summary = result.summary()
        if spec.perplexity_dataset is not None:  # the HF scorer, on the same device as an hf engine
            summary["perplexity"] = heldout_perplexity(store, spec, model_dir, reporter)
    # The engine's device and dtype; no token rate: the attack counts hits, not tokens.
    summary["compute"] = meter.engine_record(provenance)
    return JobOutput(artifacts={"outputs": outputs},
                     result=ExtractionJobResult.model_validate(summary).model_dump(mode="json"))


def heldout_perplexity(store: ArtifactStore, spec: ExtractionJobSpec, model_dir: Path, reporter: Reporter) -> dict:
    """Token-weighted perplexity of the first `perplexity_samples` held-out texts (float32 HF
    forward, 512 tokens per text, no vocabulary statistics: perplexity needs only the targets)."""
    from genleak.attacker.mia.logprobs import score_texts_hf
    from genleak.attacker.mia.perplexity import perplexity
    from genleak.attacker.pii_scan.inventory import field_texts

    records = load_records(store, _ref(spec.perplexity_dataset), "perplexity_dataset")
    rows = records[: spec.perplexity_samples]
    columns = [field_texts(rows, name, "perplexity_fields") for name in spec.perplexity_fields]
    texts = ["".join(parts) for parts in zip(*columns)]
    scored = score_texts_hf(model_dir, texts, max_length=512, reporter=reporter, with_vocab_stats=False,
                            trust_remote_code=spec.model.trust_remote_code)
    return {"heldout": perplexity(scored), "texts": len(texts), "tokens": sum(s.logprobs.size for s in scored)}


def _ref(spec: ArtifactSpec) -> ArtifactRef:
    return ArtifactRef(spec.uri, spec.sha256, "dataset")
