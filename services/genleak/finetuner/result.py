"""What `finetune` returns: one checkpoint per saved epoch plus the run's metrics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from genleak.contracts.compute import ComputeRecord
from genleak.finetuner.metrics import TrainMetrics


@dataclass(frozen=True)
class EpochCheckpoint:
    epoch: int
    path: Path
    """out_dir/epoch-{k}; it exists only once complete (it is written under a temp name, then renamed)."""
    adapter_dir: Path | None
    """peft adapter (adapter_model.safetensors + adapter_config.json); None for full fine-tuning."""
    merged_dir: Path | None
    """Plain HF model folder (safetensors + tokenizer); None when train.save_merged is off."""
    global_step: int
    mean_loss: float
    resumed: bool
    """True if found complete from an earlier run with the same inputs instead of trained now."""


@dataclass(frozen=True)
class FineTuneResult:
    out_dir: Path
    spec_hash: str
    run_key: str
    """Hash of spec + training texts + base model config: which checkpoints a rerun may reuse."""
    checkpoints: tuple[EpochCheckpoint, ...]
    metrics: TrainMetrics
    metrics_path: Path
    compute: ComputeRecord
    """Where the run computed: device, dtype, peak memory, useful tokens per second, library versions."""

    @property
    def final(self) -> EpochCheckpoint:
        return self.checkpoints[-1]
