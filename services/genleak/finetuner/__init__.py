"""The finetuner core: fine-tune a causal LM (LoRA, DoRA, PiSSA or full) with per-epoch checkpoints.

Specs, configs and the method registry import without torch, so callers can validate a
request cheaply; `finetune` (and torch with it) is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from genleak.contracts.finetune import DataFormat, TrainConfig
from genleak.finetuner.methods import FineTuneMethod, MethodPlugin, get_method, method_names, register_method
from genleak.finetuner.metrics import EpochMetrics, TrainMetrics
from genleak.finetuner.result import EpochCheckpoint, FineTuneResult
from genleak.finetuner.spec import FineTuneSpec

if TYPE_CHECKING:
    from genleak.finetuner.train import finetune

__all__ = [
    "DataFormat",
    "EpochCheckpoint",
    "EpochMetrics",
    "FineTuneMethod",
    "FineTuneResult",
    "FineTuneSpec",
    "MethodPlugin",
    "TrainConfig",
    "TrainMetrics",
    "finetune",
    "get_method",
    "method_names",
    "register_method",
]


def __getattr__(name: str) -> Any:
    if name == "finetune":
        from genleak.finetuner.train import finetune

        return finetune
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
