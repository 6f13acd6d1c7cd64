"""Training metrics: loss per step and epoch, and how much of the compute was real tokens."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int
    steps: int
    mean_loss: float
    """Token-weighted mean next-token loss over the epoch (nats)."""
    step_losses: tuple[float, ...]
    useful_tokens: int
    """Real (non-padding) tokens fed to the model."""
    padded_tokens: int
    """Positions computed, padding included (batch rows x batch width)."""
    train_s: float
    resumed: bool = False
    """True if this epoch was loaded from an earlier run's checkpoint, not trained now."""

    @property
    def tokens_per_s(self) -> float:
        return self.useful_tokens / self.train_s if self.train_s > 0 else 0.0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EpochMetrics:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**{**fields, "step_losses": tuple(fields["step_losses"]), "resumed": True})


@dataclass(frozen=True)
class TrainMetrics:
    epochs: tuple[EpochMetrics, ...]
    n_examples: int
    n_truncated: int
    max_length: int
    wall_s: float

    def summary(self) -> dict[str, Any]:
        trained = [e for e in self.epochs if not e.resumed]
        useful = sum(e.useful_tokens for e in trained)
        padded = sum(e.padded_tokens for e in trained)
        train_s = sum(e.train_s for e in trained)
        # what the paper's padding="max_length" would have computed for the same epochs
        pad_to_max = self.n_examples * self.max_length * len(trained)
        return {
            "epochs_trained": len(trained),
            "epochs_resumed": len(self.epochs) - len(trained),
            "final_loss": self.epochs[-1].mean_loss if self.epochs else None,
            "useful_tokens": useful,
            "padded_tokens": padded,
            "useful_fraction": useful / padded if padded else None,
            "pad_to_max_tokens": pad_to_max,
            "useful_fraction_if_pad_to_max": useful / pad_to_max if pad_to_max else None,
            "useful_tokens_per_s": useful / train_s if train_s else None,
            "padded_tokens_per_s": padded / train_s if train_s else None,
            "train_s": train_s,
            "wall_s": self.wall_s,
        }

    def to_json(self) -> dict[str, Any]:
        epochs = [{**asdict(e), "tokens_per_s": e.tokens_per_s} for e in self.epochs]
        return {
            "summary": self.summary(),
            "epochs": epochs,
            "n_examples": self.n_examples,
            "n_truncated": self.n_truncated,
            "max_length": self.max_length,
        }


@dataclass
class EpochRecorder:
    """Mutable tally for the epoch in progress."""

    epoch: int
    loss_sum: float = 0.0
    loss_tokens: int = 0
    useful_tokens: int = 0
    padded_tokens: int = 0
    step_losses: list[float] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def add_batch(self, loss_sum: float, loss_tokens: int, useful_tokens: int, padded_tokens: int) -> None:
        self.loss_sum += loss_sum
        self.loss_tokens += loss_tokens
        self.useful_tokens += useful_tokens
        self.padded_tokens += padded_tokens

    def finish(self) -> EpochMetrics:
        return EpochMetrics(
            epoch=self.epoch,
            steps=len(self.step_losses),
            mean_loss=self.loss_sum / max(self.loss_tokens, 1),
            step_losses=tuple(self.step_losses),
            useful_tokens=self.useful_tokens,
            padded_tokens=self.padded_tokens,
            train_s=time.perf_counter() - self.started,
        )
