"""A plain torch pretraining loop: AdamW, warm-up + cosine to a floor, length-grouped dynamic padding.

Batches hold documents of similar length (sorted inside shuffled mega-batches) and are padded
only to their own longest document, which on 2 CPU cores saves far more than any kernel trick.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch
from transformers import PreTrainedModel, get_scheduler

from genleak.compute.batching import causal_lm_batch, length_grouped
from genleak.core.progress import NULL_REPORTER, Reporter
from genleak.lab.config import PretrainConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainRun:
    """What one model's pretraining needs beyond the shared PretrainConfig."""

    stage: str
    epochs: int
    lr: float
    seed: int


@dataclass(frozen=True)
class TrainStats:
    steps: int
    epochs: int
    tokens_seen: int
    first_step_loss: float
    final_epoch_loss: float
    epoch_losses: list[float]
    seconds: float
    tokens_per_second: float

    def as_dict(self) -> dict:
        return asdict(self)


def pretrain(
    model: PreTrainedModel,
    documents: list[list[int]],
    pad_id: int,
    run: TrainRun,
    config: PretrainConfig,
    reporter: Reporter = NULL_REPORTER,
    make_batch: Callable[[list[list[int]]], tuple[torch.Tensor, torch.Tensor, torch.Tensor]] | None = None,
) -> TrainStats:
    """`make_batch` turns documents into (input_ids, attention_mask, labels); default: causal LM labels."""
    make_batch = make_batch or (lambda batch: pad_batch(batch, pad_id))
    generator = torch.Generator().manual_seed(run.seed)
    steps_per_epoch = math.ceil(len(documents) / config.batch_size)
    total_steps = steps_per_epoch * run.epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=run.lr, weight_decay=config.weight_decay)
    scheduler = _warmup_cosine(optimizer, total_steps, config)
    model.train()
    started, step, tokens, first_loss = time.perf_counter(), 0, 0, float("nan")
    epoch_losses: list[float] = []
    for epoch in range(run.epochs):
        losses: list[float] = []
        for batch in length_grouped_batches(documents, config, generator):
            input_ids, attention_mask, labels = make_batch(batch)
            loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step, tokens = step + 1, tokens + int(attention_mask.sum())
            losses.append(loss.item())
            first_loss = losses[0] if step == 1 else first_loss
            reporter.update(run.stage, step, total_steps, f"epoch {epoch + 1}/{run.epochs} loss {losses[-1]:.3f}")
        epoch_losses.append(sum(losses) / len(losses))
        log.info("%s epoch %d/%d mean loss %.4f", run.stage, epoch + 1, run.epochs, epoch_losses[-1])
    model.eval()
    seconds = time.perf_counter() - started
    return TrainStats(
        steps=step, epochs=run.epochs, tokens_seen=tokens, first_step_loss=first_loss,
        final_epoch_loss=epoch_losses[-1], epoch_losses=epoch_losses, seconds=seconds,
        tokens_per_second=tokens / max(seconds, 1e-9),
    )


def length_grouped_batches(
    documents: list[list[int]], config: PretrainConfig, generator: torch.Generator,
) -> list[list[list[int]]]:
    """One epoch's batches of documents: shuffled, grouped by length in mega-batches of
    `length_group_factor` batches, then the batches shuffled, all from `generator`."""
    order = torch.randperm(len(documents), generator=generator).tolist()
    lengths = [len(document) for document in documents]
    batches = length_grouped(order, lengths, config.batch_size, config.length_group_factor)
    shuffled = torch.randperm(len(batches), generator=generator).tolist()
    return [[documents[i] for i in batches[k]] for k in shuffled]


def pad_batch(batch: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-pad to the batch's longest document; padded positions carry label -100 (no loss)."""
    padded = causal_lm_batch(batch, pad_id)
    return padded["input_ids"], padded["attention_mask"], padded["labels"]


def _warmup_cosine(optimizer: torch.optim.Optimizer, total_steps: int, config: PretrainConfig):
    """Linear warm-up over warmup_ratio of the steps, then cosine decay to min_lr_ratio of the peak:
    transformers' schedule, with the warm-up counted as the finetuner counts it."""
    return get_scheduler(
        "cosine_with_min_lr",
        optimizer,
        num_warmup_steps=math.ceil(config.warmup_ratio * total_steps),
        num_training_steps=total_steps,
        scheduler_specific_kwargs={"min_lr_rate": config.min_lr_ratio},
    )
