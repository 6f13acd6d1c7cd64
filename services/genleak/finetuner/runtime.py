"""Where and how a fine-tune computes: one `accelerate.Accelerator` per training run.

accelerate decides the device (a GPU when one is visible, else the CPU), wraps the model for
data-parallel training when the process was launched as one of several (torchrun sets the
ranks; on CPUs the gloo backend), autocasts the forward pass for mixed precision and scales the
fp16 loss (its GradScaler skips a step whose gradients overflowed). genleak keeps its own batches
(length grouping, dynamic padding), loss normalisation and per-epoch checkpoints around it.

accelerate keeps its settings in a process-wide `AcceleratorState`, so two trainings in one
process cannot use different precisions at once: `training_accelerator` holds `TRAINING_LOCK`
while a run lasts and resets that state first, as transformers' TrainingArguments does.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState

from genleak.compute.device import pick_device
from genleak.contracts.finetune import TrainConfig
from genleak.core.errors import InvalidSpec

TRAINING_LOCK = threading.Lock()
# accelerate's own switch for "use the CPU even where a GPU is visible" (`accelerate launch --cpu`);
# a distributed run on CPUs needs it so that accelerate initialises gloo instead of leaving each rank alone.
USE_CPU_ENV = "ACCELERATE_USE_CPU"


def launched_as_rank() -> bool:
    """True inside a process that torchrun (or accelerate launch) started as one rank of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


@contextlib.contextmanager
def training_accelerator(train: TrainConfig, device: str | torch.device | None = None) -> Iterator[Accelerator]:
    """An Accelerator for one run with `train.mixed_precision`, on `device` (default: accelerate's choice).

    Raises InvalidSpec for a device that is not there or a precision the device cannot run.
    """
    wanted = pick_device(device) if device is not None else None
    cpu = (wanted is not None and wanted.type == "cpu") or _env_flag(USE_CPU_ENV)
    with TRAINING_LOCK:
        AcceleratorState._reset_state(reset_partial_state=False)
        try:
            accelerator = Accelerator(mixed_precision=train.mixed_precision, cpu=cpu)
        except ValueError as err:  # accelerate's refusal, e.g. fp16 autocast on a CPU
            raise InvalidSpec(f"mixed_precision {train.mixed_precision} cannot run on this machine ({err}); "
                              "use bf16 or no on a CPU", field="train.mixed_precision") from err
        _check_device(accelerator, wanted)
        if train.mixed_precision == "fp16" and accelerator.device.type == "cpu":
            # accelerate would quietly compute in float32 there; a record saying fp16 would be false
            raise InvalidSpec("mixed_precision fp16 needs a GPU (it runs with a loss scaler there); use bf16 or no "
                              "on a CPU", field="train.mixed_precision")
        try:
            yield accelerator
        finally:
            accelerator.free_memory()
            AcceleratorState._reset_state(reset_partial_state=False)


def data_parallel_processes(configured: int | None, train: TrainConfig) -> int:
    """Ranks for one run: `configured`, or every visible GPU (1 without one), at most one per sequence
    of an optimizer step (a rank beyond that would only ever run passes that weigh zero)."""
    wanted = configured if configured is not None else max(torch.cuda.device_count(), 1)
    return max(1, min(wanted, train.batch_size * train.grad_accum))


def precision_label(train: TrainConfig) -> str:
    """The precision a run's math used, as its compute record names it."""
    if train.mixed_precision == "no":
        return train.dtype
    return f"{train.mixed_precision} mixed precision over {train.dtype} weights"


def _check_device(accelerator: Accelerator, wanted: torch.device | None) -> None:
    if wanted is None or accelerator.device.type != wanted.type:
        if wanted is not None:
            raise InvalidSpec(f"training was asked to run on {wanted}, but accelerate placed it on "
                              f"{accelerator.device}", field="device")
        return
    if wanted.index is not None and accelerator.device.index not in (None, wanted.index):
        # one process trains on accelerate's device; pick another GPU with CUDA_VISIBLE_DEVICES
        raise InvalidSpec(f"training runs on {accelerator.device}; expose {wanted} as the first visible GPU "
                          "(CUDA_VISIBLE_DEVICES) to train there", field="device")


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")
