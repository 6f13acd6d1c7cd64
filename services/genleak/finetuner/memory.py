"""Will a fine-tune fit? A lower bound on its memory, checked before any weight is loaded.

The model is built on accelerate's meta device (shapes, no storage) and wrapped by the method, so
the parameter counts are exact for any architecture and adapter config. Memory per process:

    weights      every parameter in its dtype (adapters in float32)
    training     per trainable parameter: its gradient plus AdamW's two moments (param dtype)
    activations  what the backward pass keeps for the longest micro-batch the data makes:
                 per layer and token ~17 hidden-size values (Korthikanti et al. 2022, without
                 the attention-score term that SDPA/flash attention avoid), one layer input per
                 layer with gradient checkpointing, plus the float32 logits and their gradient

It is a lower bound (no allocator fragmentation, no CUDA context, no framework workspace), so a
run it refuses cannot fit; one it admits can still run out of memory. Data-parallel training keeps
a full replica per process, so the bound is per process and the device is one GPU.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genleak.contracts.finetune import TrainConfig
from genleak.core.errors import InvalidSpec
from genleak.core.loading import MODEL_LOAD_LOCK

log = logging.getLogger(__name__)

GIB = 1 << 30
# Saved activations per token per layer, in hidden-size units (34 bytes at 16 bits / 2 bytes).
ACTIVATION_VALUES_PER_TOKEN_LAYER = 17
BYTES = {torch.float32: 4, torch.bfloat16: 2, torch.float16: 2}


@dataclass(frozen=True)
class MemoryEstimate:
    total_params: int
    trainable_params: int
    weights_bytes: int
    training_bytes: int
    activation_bytes: int
    tokens_per_micro_batch: tuple[int, int]  # (rows, longest sequence)

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.training_bytes + self.activation_bytes

    def describe(self) -> str:
        rows, width = self.tokens_per_micro_batch
        return (f"at least {_gib(self.total_bytes)}: weights {_gib(self.weights_bytes)} "
                f"({self.total_params / 1e6:.1f}M parameters), gradients + AdamW state {_gib(self.training_bytes)} "
                f"({self.trainable_params / 1e6:.2f}M trainable), activations {_gib(self.activation_bytes)} "
                f"(micro-batch {rows} x {width} tokens)")


def estimate_memory(model: torch.nn.Module, train: TrainConfig, rows: int, width: int, shards: int = 1) -> MemoryEstimate:
    """The bound for `model` (meta or real, already wrapped by the method) on micro-batches of rows x width;
    `shards` > 1: FSDP splits weights, gradients and optimizer state over that many processes."""
    params = list(model.parameters())
    trainable = [p for p in params if p.requires_grad]
    weights = sum(p.numel() * BYTES.get(p.dtype, 4) for p in params)
    # gradient + exp_avg + exp_avg_sq, each in the parameter's dtype
    training = sum(3 * p.numel() * BYTES.get(p.dtype, 4) for p in trainable)
    config = model.config if hasattr(model, "config") else None
    activations = _activation_bytes(config, train, rows, width)
    return MemoryEstimate(sum(p.numel() for p in params), sum(p.numel() for p in trainable), weights // shards,
                          training // shards, activations, (rows, width))


def meta_model(model_dir: Path, dtype: torch.dtype, trust_remote_code: bool, method: Any) -> torch.nn.Module:
    """The model as training will hold it, on the meta device: shapes only, nothing read but config.json."""
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(str(model_dir), trust_remote_code=trust_remote_code, local_files_only=True)
    with MODEL_LOAD_LOCK:
        with init_empty_weights():
            model = AutoModelForCausalLM.from_config(config, dtype=dtype, trust_remote_code=trust_remote_code)
        # built on meta, an output head that shares the input embedding is a second copy (counted twice: a
        # lower bound must not overstate); tying outside init_empty_weights, which re-registers parameters
        model.tie_weights()
        return _wrapped_on_meta(model, method)


def _wrapped_on_meta(model: torch.nn.Module, method: Any) -> torch.nn.Module:
    if not method.has_adapter:
        return method.wrap(model, None)
    import dataclasses

    import peft

    # the adapter's shapes without its data-dependent init (PiSSA's SVD needs real weights)
    config = dataclasses.replace(method.lora_config(), init_lora_weights=True)
    return peft.get_peft_model(model, config)


def device_capacity(device: torch.device) -> int | None:
    """Bytes one process can use on `device`: a GPU's total memory, the CPU's available memory."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    if device.type == "cpu":
        import psutil  # an accelerate dependency

        return psutil.virtual_memory().available
    return None


def check_fits(estimate: MemoryEstimate, device: torch.device, capacity: int | None) -> None:
    """InvalidSpec naming the parts and the knobs when the bound exceeds what the device has."""
    log.info("fine-tune memory per process on %s: %s (device has %s)", device, estimate.describe(),
             _gib(capacity) if capacity else "unknown")
    if capacity is None or estimate.total_bytes <= capacity:
        return
    raise InvalidSpec(
        f"the fine-tune cannot fit on {device}: it needs {estimate.describe()}, and the device has "
        f"{_gib(capacity)}. Lower train.batch_size (raise train.grad_accum to keep the step), lower "
        "train.max_length, set train.gradient_checkpointing, use a LoRA method instead of full, or load the "
        "base in train.dtype bfloat16", field="train")


def _activation_bytes(config: Any, train: TrainConfig, rows: int, width: int) -> int:
    hidden = getattr(config, "hidden_size", None) or getattr(config, "n_embd", None) or 0
    layers = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None) or 0
    vocab = getattr(config, "vocab_size", None) or 0
    value = 2 if train.mixed_precision != "no" or train.dtype != "float32" else 4
    tokens = rows * width
    if train.gradient_checkpointing:  # each layer's input, plus one layer recomputed at a time
        per_layers = tokens * hidden * value * (layers + ACTIVATION_VALUES_PER_TOKEN_LAYER)
    else:
        per_layers = tokens * hidden * value * ACTIVATION_VALUES_PER_TOKEN_LAYER * layers
    logits = 2 * tokens * vocab * 4  # the float32 logits the loss reads, and their gradient
    return per_layers + logits


def _gib(n: int | None) -> str:
    if n is None:
        return "unknown"
    return f"{n / GIB:.2f} GiB" if n >= GIB else f"{n / (1 << 20):.1f} MiB"
