"""Attacker core: the e-mail extraction attack (counts + a PII artifact; see extraction/job.py), membership
inference (scores, ROC, metrics; see mia/job.py) and the untargeted PII leakage scan (Presidio over
samples; see pii_scan/job.py) against a model. Each job lives in its own package; this class holds the
store, the engine cache and the PII salt they share."""

from __future__ import annotations

from genleak.attacker.extraction.job import ExtractionJobSpec, preflight_extraction, run_extraction_job
from genleak.attacker.mia.merge import MIAMergeJobSpec, preflight_merge, run_membership_merge
from genleak.attacker.mia.job import MIAJobSpec, ScoreTextsSpec, preflight_mia, run_membership_inference, score_texts
from genleak.attacker.pii_scan.job import (
    DetectPIISpec, PIIScanJobSpec, detect_pii, preflight_pii_scan, run_pii_scan,
)
from genleak.core.jobs import JobOutput
from genleak.core.outputs import run_cached
from genleak.core.pii_mask import salt_fingerprint
from genleak.core.progress import NULL_REPORTER, Reporter
from genleak.core.store import ArtifactStore
from genleak.engines import EngineCache


class AttackerCore:
    def __init__(self, store: ArtifactStore, engines: EngineCache, pii_salt: str = ""):
        self.store = store
        self.engines = engines
        self.pii_salt = pii_salt  # value ids in PII outputs are salted with it (GENLEAK_PII_SALT)

    def preflight(self, spec: ExtractionJobSpec) -> None:
        preflight_extraction(self.store, spec)

    def run_extraction(self, spec: ExtractionJobSpec, reporter: Reporter) -> JobOutput:
        return run_cached(self.store, "extraction", spec, reporter,
                          lambda root, r: run_extraction_job(self.store, self.engines, spec, root, r))

    def preflight_mia(self, spec: MIAJobSpec) -> None:
        preflight_mia(self.store, spec)

    def preflight_merge(self, spec: MIAMergeJobSpec) -> None:
        preflight_merge(self.store, spec)

    def run_merge(self, spec: MIAMergeJobSpec, reporter: Reporter) -> JobOutput:
        return run_cached(self.store, "mia-merge", spec, reporter,
                          lambda root, r: run_membership_merge(self.store, spec, root, r))

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
