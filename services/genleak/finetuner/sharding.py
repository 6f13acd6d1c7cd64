"""Fully sharded data parallelism (FSDP2, `torch.distributed.fsdp.fully_shard`) for full fine-tuning.

Each decoder layer (the classes a transformers model lists in `_no_split_modules`) and then the whole
model are sharded over the processes: a process keeps 1/N of the weights, gradients and AdamW state and
gathers a layer's weights only while it computes. The gradients are reduce-scattered (averaged over
the processes), exactly what DDP's all-reduce averages, so the training loop is the same.

accelerate runs FSDP only on GPUs; torch's FSDP2 also runs on CPU processes over gloo, so the same code
path is what the CPU tests exercise. Checkpoints gather the full weights and optimizer state on rank 0
(`torch.distributed.checkpoint.state_dict`), in the layout an unsharded run writes.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.fsdp import fully_shard

GATHER_ON_RANK0 = StateDictOptions(full_state_dict=True, cpu_offload=True)
BROADCAST_FROM_RANK0 = StateDictOptions(full_state_dict=True, broadcast_from_rank0=True)


def shard_model(model: torch.nn.Module) -> torch.nn.Module:
    """Shard every decoder layer, then the rest (embeddings, final norm, head) as one unit."""
    layer_classes = set(getattr(model, "_no_split_modules", None) or ())
    layers = [m for m in model.modules() if type(m).__name__ in layer_classes]
    if not layers:
        raise ValueError(f"{type(model).__name__} names no decoder layer class (_no_split_modules) to shard by")
    for layer in layers:
        fully_shard(layer)
    fully_shard(model)
    return model


def set_gradient_sync(model: torch.nn.Module, sync: bool) -> None:
    """FSDP2's counterpart of DDP's no_sync: reduce-scatter gradients only on a step's last micro-batch."""
    model.set_requires_gradient_sync(sync)


def gather_full_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """(weights, optimizer state) gathered in full on rank 0, on the host; every process must call it."""
    return (get_model_state_dict(model, options=GATHER_ON_RANK0),
            get_optimizer_state_dict(model, optimizer, options=GATHER_ON_RANK0))


def load_full_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer, weights: dict[str, Any],
                    optimizer_state: dict[str, Any]) -> None:
    """Rank 0's full state into every process's shards; every process must call it."""
    set_model_state_dict(model, weights, options=BROADCAST_FROM_RANK0)
    set_optimizer_state_dict(model, optimizer, optimizer_state, options=BROADCAST_FROM_RANK0)
