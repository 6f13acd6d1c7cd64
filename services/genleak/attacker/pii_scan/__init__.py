"""Untargeted PII leakage scan: Presidio (offline) over model samples or a dataset, each detection
matched to the private corpus's PII inventory and to the fine-tuning data.

Layout: the settings are genleak.contracts.pii (analyzer, scrubber) and genleak.contracts.pii_scan (the jobs);
genleak.presidio holds Detection, analyzer.py (the only Presidio/spaCy imports; one
engine per config per process), recognizers/ (what Presidio lacks, e.g. US street addresses),
inventory.py (real values; fine-tuning lookups), scan.py (matching and per-type counts),
sampling.py (unconditioned and prompted samples), job.py (StartPIIScan / DetectPII cores).
"""

from genleak.contracts.pii import DEFAULT_ENTITIES, DEFAULT_RECOGNIZERS, AnalyzerConfig
from genleak.contracts.pii_scan import InventorySpec, PIISampling
from genleak.presidio.config import Detection
from genleak.attacker.pii_scan.inventory import FinetuneIndex, Inventory, inventory_from_people
from genleak.attacker.pii_scan.job import DetectPIISpec, PIIScanJobSpec, detect_pii, run_pii_scan
from genleak.presidio.recognizers import recognizer_names, register_recognizer
from genleak.attacker.pii_scan.scan import Finding, RecallCounts, TypeCounts, count_by_type, match_findings

__all__ = [
    "DEFAULT_ENTITIES", "DEFAULT_RECOGNIZERS", "AnalyzerConfig", "DetectPIISpec", "Detection", "Finding",
    "FinetuneIndex", "Inventory", "InventorySpec", "PIISampling", "PIIScanJobSpec", "RecallCounts", "TypeCounts",
    "count_by_type", "detect_pii", "inventory_from_people", "match_findings", "recognizer_names",
    "register_recognizer", "run_pii_scan",
]
