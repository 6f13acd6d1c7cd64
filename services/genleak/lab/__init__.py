"""The built-in privacy lab: a seeded Enron-like world with planted PII and small pretrained models.

Ground truth for the audits: which documents the models were pretrained on (members vs
non-members) and whose emails they could have memorised (PII-eval people, absent from the
fine-tuning prompts). Building it loads torch and transformers; importing this package does not
(`genleak.lab.publish`, which finds a published lab in the store, is imported by processes that
must stay torch-free until a lab is actually built).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "build_lab": "genleak.lab.build",
    "make_lab_datasets": "genleak.lab.build",
    "PRESETS": "genleak.lab.config",
    "CorpusConfig": "genleak.lab.config",
    "LabConfig": "genleak.lab.config",
    "ModelShape": "genleak.lab.config",
    "PretrainConfig": "genleak.lab.config",
    "ProbeConfig": "genleak.lab.config",
    "LabResult": "genleak.lab.result",
    "load_lab_result": "genleak.lab.result",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
