"""Attacker core: the e-mail extraction attack (counts + a PII artifact), membership
inference (scores, ROC, metrics; see membership.py) and the untargeted PII leakage scan
(Presidio over samples; see pii_scan/job.py) against a model."""

from __future__ import annotations

from pydantic import Field

from genleak.attacker.membership import MIAJobSpec, ScoreTextsSpec, preflight_mia, run_membership_inference, score_texts
from genleak.attacker.pii import run_extraction
from genleak.attacker.pii_scan.job import (
    DetectPIISpec, PIIScanJobSpec, detect_pii, preflight_pii_scan, run_pii_scan,
)
from genleak.contracts.extraction import ExtractionJobResult, ExtractionParams
from genleak.core.datasets import load_records, publish_records, require_dataset
from genleak.core.jobs import JobOutput
from genleak.core.models import require_model, resolve_model
from genleak.core.outputs import run_cached
from genleak.core.pii_mask import salt_fingerprint
from genleak.core.progress import NULL_REPORTER, Reporter
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


class AttackerCore:
    def __init__(self, store: ArtifactStore, engines: EngineCache, pii_salt: str = ""):
        self.store = store
        self.engines = engines
        self.pii_salt = pii_salt  # value ids in PII outputs are salted with it (GENLEAK_PII_SALT)

    def preflight(self, spec: ExtractionJobSpec) -> None:
        require_model(self.store, spec.model.uri, allow_pickle=spec.model.allow_pickle)
        require_dataset(self.store, spec.targets.uri, "targets.uri")
        require_dataset(self.store, spec.few_shot.uri, "few_shot.uri")
        if spec.perplexity_dataset is not None:
            require_dataset(self.store, spec.perplexity_dataset.uri, "perplexity_dataset.uri")

    def run_extraction(self, spec: ExtractionJobSpec, reporter: Reporter) -> JobOutput:
        return run_cached(self.store, "extraction", spec, reporter, lambda root, r: self._attack(spec, root, r))

    def preflight_mia(self, spec: MIAJobSpec) -> None:
        preflight_mia(self.store, spec)

    def run_mia(self, spec: MIAJobSpec, reporter: Reporter) -> JobOutput:
        return run_cached(self.store, "mia", spec, reporter,
                          lambda root, r: run_membership_inference(self.store, spec, root, r))

    def score_texts(self, spec: ScoreTextsSpec, reporter: Reporter = NULL_REPORTER) -> list[dict]:
        return score_texts(self.store, spec, reporter)

    def preflight_pii_scan(self, spec: PIIScanJobSpec) -> None:
        preflight_pii_scan(self.store, spec)

    def run_pii_scan(self, spec: PIIScanJobSpec, reporter: Reporter) -> JobOutput:
        # Value ids depend on the salt: outputs made under another salt are not this request's.
        kind = f"pii_scan-{salt_fingerprint(self.pii_salt)}"
        return run_cached(self.store, kind, spec, reporter,
                          lambda root, r: run_pii_scan(self.store, self.engines, spec, self.pii_salt, root, r))

    def detect_pii(self, spec: DetectPIISpec, reporter: Reporter = NULL_REPORTER) -> list[list[dict]]:
        return detect_pii(self.store, spec, self.pii_salt, reporter)

    def _attack(self, spec: ExtractionJobSpec, root: str, reporter: Reporter) -> JobOutput:
        targets = load_records(self.store, _ref(spec.targets), "targets")
        few_shot = load_records(self.store, _ref(spec.few_shot), "few_shot")
        model_dir = resolve_model(self.store, spec.model)
        engine_config = spec.engine.model_copy(update={"trust_remote_code": spec.model.trust_remote_code})
        with self.engines.lease(model_dir, engine_config) as engine:
            result = run_extraction(engine, targets, few_shot, spec.attack, reporter)
        # The per-target rows hold real PII: they stay in the store, never in RPC results or reports.
        outputs = publish_records(self.store, result.row_dicts(), f"{root}/outputs",
                                  meta={"contains_pii": True, "model": spec.model.uri})
        summary = result.summary()
        if spec.perplexity_dataset is not None:
            summary["perplexity"] = self._perplexity(spec, model_dir, reporter)
        return JobOutput(artifacts={"outputs": outputs},
                         result=ExtractionJobResult.model_validate(summary).model_dump(mode="json"))

    def _perplexity(self, spec: ExtractionJobSpec, model_dir, reporter: Reporter) -> dict:
        """Token-weighted perplexity of the first `perplexity_samples` held-out texts (float32 HF
        forward, 512 tokens per text, no vocabulary statistics: perplexity needs only the targets)."""
        from genleak.attacker.mia.logprobs import score_texts_hf
        from genleak.attacker.mia.perplexity import perplexity
        from genleak.attacker.pii_scan.inventory import field_texts

        records = load_records(self.store, _ref(spec.perplexity_dataset), "perplexity_dataset")
        rows = records[: spec.perplexity_samples]
        columns = [field_texts(rows, name, "perplexity_fields") for name in spec.perplexity_fields]
        texts = ["".join(parts) for parts in zip(*columns)]
        scored = score_texts_hf(model_dir, texts, max_length=512, reporter=reporter, with_vocab_stats=False,
                                trust_remote_code=spec.model.trust_remote_code)
        return {"heldout": perplexity(scored), "texts": len(texts), "tokens": sum(s.logprobs.size for s in scored)}


def _ref(spec: ArtifactSpec) -> ArtifactRef:
    return ArtifactRef(spec.uri, spec.sha256, "dataset")
