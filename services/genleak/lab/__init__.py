"""The built-in privacy lab: a seeded Enron-like world with planted PII and small pretrained models.

Ground truth for the audits: which documents the models were pretrained on (members vs
non-members) and whose emails they could have memorised (PII-eval people, absent from the
fine-tuning prompts). Importing this package loads torch and transformers.
"""

from genleak.lab.build import build_lab, make_lab_datasets
from genleak.lab.config import PRESETS, CorpusConfig, LabConfig, ModelShape, PretrainConfig, ProbeConfig
from genleak.lab.result import LabResult, load_lab_result

__all__ = [
    "PRESETS",
    "CorpusConfig",
    "LabConfig",
    "LabResult",
    "ModelShape",
    "PretrainConfig",
    "ProbeConfig",
    "build_lab",
    "load_lab_result",
    "make_lab_datasets",
]
