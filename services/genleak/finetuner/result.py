"""What `finetune` returns: one checkpoint per saved epoch plus the run's metrics."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from genleak.contracts.compute import ComputeRecord
from genleak.finetuner.metrics import EpochMetrics, TrainMetrics


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

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (paths as strings): how a data-parallel run's rank 0 hands its result back."""
        metrics = {**asdict(self.metrics), "epochs": [asdict(e) for e in self.metrics.epochs]}
        return {"out_dir": str(self.out_dir), "spec_hash": self.spec_hash, "run_key": self.run_key,
                "checkpoints": [_checkpoint_json(c) for c in self.checkpoints], "metrics": metrics,
                "metrics_path": str(self.metrics_path), "compute": self.compute.model_dump(mode="json")}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FineTuneResult:
        metrics = data["metrics"]
        epochs = tuple(EpochMetrics(**{**e, "step_losses": tuple(e["step_losses"])}) for e in metrics["epochs"])
        checkpoints = tuple(
            EpochCheckpoint(**{**c, **{k: Path(c[k]) if c[k] is not None else None for k in _PATH_FIELDS}})
            for c in data["checkpoints"])
        return cls(Path(data["out_dir"]), data["spec_hash"], data["run_key"], checkpoints,
                   TrainMetrics(**{**metrics, "epochs": epochs}), Path(data["metrics_path"]),
                   ComputeRecord.model_validate(data["compute"]))


_PATH_FIELDS = ("path", "adapter_dir", "merged_dir")


def _checkpoint_json(checkpoint: EpochCheckpoint) -> dict[str, Any]:
    return {f.name: str(v) if isinstance(v := getattr(checkpoint, f.name), Path) else v
            for f in fields(checkpoint)}
