"""Full fine-tuning: every weight trains; the checkpoint is the model itself (no adapter)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from genleak.core.specs import Spec
from genleak.finetuner.methods.registry import register_method

if TYPE_CHECKING:
    import torch


class FullConfig(Spec):
    """Full fine-tuning has no method hyper-parameters; optimisation lives in TrainConfig."""


class FullMethod:
    has_adapter = False

    def wrap(self, model: torch.nn.Module, scratch_dir: Path) -> torch.nn.Module:
        for param in model.parameters():
            param.requires_grad_(True)
        return model

    def save_adapter(self, model: torch.nn.Module, dest: Path) -> None:
        raise NotImplementedError("full fine-tuning has no adapter; save the merged model")

    def merged_model(self, model: torch.nn.Module) -> torch.nn.Module:
        return model


def build_full(config: FullConfig) -> FullMethod:
    return FullMethod()


register_method("full", FullConfig, build_full)
