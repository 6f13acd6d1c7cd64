"""The built-in privacy lab: a seeded Enron-like world with planted PII and small pretrained models.

Ground truth for the audits: which documents the models were pretrained on (members vs
non-members) and whose emails they could have memorised (PII-eval people, absent from the
fine-tuning prompts). Import cost: torch and transformers are loaded with this package.
"""

from genleak.lab.build import LabResult, build_lab, load_lab_result
from genleak.lab.config import PRESETS, CorpusConfig, LabConfig, ModelShape, PretrainConfig, ProbeConfig

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
]
