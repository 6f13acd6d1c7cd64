"""Shared machinery for the LoRA family (lora, dora, pissa): one peft `LoraConfig` per method."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from genleak.core.specs import Spec

if TYPE_CHECKING:
    import torch

PEFT_HINT = "peft is required for adapter methods: pip install 'genleak[ml]'"


class LoraFamilyConfig(Spec):
    """Hyper-parameters shared by every low-rank adapter method (paper defaults)."""

    r: int = Field(64, ge=1, le=65536, description="Adapter rank")
    lora_alpha: int = Field(16, ge=1, description="Scaling numerator: the update is scaled by lora_alpha / r")
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on the adapter input during training")
    target_modules: str | tuple[str, ...] = Field(
        "all-linear",
        description="Modules to adapt: 'all-linear' (every linear but the output head), a regex, or a list of names",
    )
    bias: Literal["none", "all", "lora_only"] = Field(
        "none", description="Which biases are trained and saved with the adapter"
    )


def _import_peft() -> Any:
    try:
        import peft
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(PEFT_HINT) from exc
    return peft


class PeftAdapterMethod:
    """Wraps a model with a peft LoRA-type adapter; subclasses tweak init and export."""

    has_adapter = True

    def __init__(self, config: LoraFamilyConfig, **lora_overrides: Any):
        self.config = config
        self._overrides = lora_overrides

    def lora_config(self) -> Any:
        peft = _import_peft()
        # method-specific fields (e.g. PiSSA's svd_niter) are not LoraConfig arguments
        fields = self.config.model_dump(include=set(LoraFamilyConfig.model_fields))
        targets = fields.pop("target_modules")
        fields["target_modules"] = targets if isinstance(targets, str) else list(targets)
        return peft.LoraConfig(task_type="CAUSAL_LM", **fields, **self._overrides)

    def wrap(self, model: torch.nn.Module, scratch_dir: Path) -> torch.nn.Module:
        return _import_peft().get_peft_model(model, self.lora_config())

    def save_adapter(self, model: torch.nn.Module, dest: Path) -> None:
        model.save_pretrained(str(dest), safe_serialization=True)

    def merged_model(self, model: torch.nn.Module) -> torch.nn.Module:
        # merge a copy: merge_and_unload mutates, and training may continue after this checkpoint
        return copy.deepcopy(model).merge_and_unload()
