"""DoRA (Liu et al. 2024): LoRA plus a learned per-column magnitude; the paper's LoRA settings."""

from __future__ import annotations

from genleak.finetuner.methods.peft_adapter import LoraFamilyConfig, PeftAdapterMethod
from genleak.finetuner.methods.registry import register_method


class DoraConfig(LoraFamilyConfig):
    """Same hyper-parameters as LoRA; the magnitude vector is saved with the adapter.

    vLLM cannot serve DoRA adapters directly: score the merged folder instead.
    """


def build_dora(config: DoraConfig) -> PeftAdapterMethod:
    return PeftAdapterMethod(config, use_dora=True)


register_method("dora", DoraConfig, build_dora)
