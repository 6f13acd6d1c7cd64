"""LoRA (Hu et al. 2021) with the paper's settings: r=64, alpha=16, dropout=0.05, all linear layers."""

from __future__ import annotations

from genleak.finetuner.methods.peft_adapter import LoraFamilyConfig, PeftAdapterMethod
from genleak.finetuner.methods.registry import register_method


class LoraConfig(LoraFamilyConfig):
    """Plain LoRA; every field keeps the paper's default."""


def build_lora(config: LoraConfig) -> PeftAdapterMethod:
    return PeftAdapterMethod(config)


register_method("lora", LoraConfig, build_lora)
