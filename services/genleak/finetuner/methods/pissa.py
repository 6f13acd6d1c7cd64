"""PiSSA (Meng et al. 2024): LoRA initialised from the top singular vectors of each weight.

PiSSA moves the principal part of W into the adapter, so its raw adapter only fits the
*residual* base. Every saved adapter is therefore converted (peft's
`path_initial_model_for_weight_conversion`) into a rank-2r LoRA on the ORIGINAL base,
which is what vLLM, peft and the merged folder all expect.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from genleak.finetuner.methods.peft_adapter import LoraFamilyConfig, PeftAdapterMethod
from genleak.finetuner.methods.registry import register_method

if TYPE_CHECKING:
    import torch

INITIAL_ADAPTER = "pissa_init"


class PissaConfig(LoraFamilyConfig):
    """The paper's PiSSA settings: r=64, alpha=16, no dropout."""

    lora_dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout on the adapter input (paper: 0 for PiSSA)")
    svd_niter: int | None = Field(
        None, ge=1, le=100, description="None = exact SVD; n = fast randomized SVD with n subspace iterations"
    )


class PissaMethod(PeftAdapterMethod):
    def __init__(self, config: PissaConfig):
        init = "pissa" if config.svd_niter is None else f"pissa_niter_{config.svd_niter}"
        super().__init__(config, init_lora_weights=init)
        self._initial_dir: Path | None = None

    def wrap(self, model: torch.nn.Module, scratch_dir: Path) -> torch.nn.Module:
        peft_model = super().wrap(model, scratch_dir)
        # the untrained adapter is the reference that turns each trained one into a plain LoRA
        self._initial_dir = scratch_dir / INITIAL_ADAPTER
        peft_model.save_pretrained(str(self._initial_dir), safe_serialization=True)
        return peft_model

    def save_adapter(self, model: torch.nn.Module, dest: Path) -> None:
        if self._initial_dir is None:
            raise RuntimeError("PissaMethod.save_adapter called before wrap")
        with warnings.catch_warnings():
            # peft warns while it briefly loads the initial adapter to do exactly this conversion
            warnings.filterwarnings("ignore", message="PiSSA changes the base weights")
            model.save_pretrained(
                str(dest), safe_serialization=True, path_initial_model_for_weight_conversion=str(self._initial_dir)
            )


def build_pissa(config: PissaConfig) -> PissaMethod:
    return PissaMethod(config)


register_method("pissa", PissaConfig, build_pissa)
