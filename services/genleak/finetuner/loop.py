"""The plain torch training loop: AdamW, warmup + decay schedule, gradient accumulation.

Batches are built on the host and moved to the model's device (on a CPU the move is a no-op).

Loss is summed over tokens and divided by the label tokens of the whole accumulation
group, so every token weighs the same whatever the batch widths (a per-micro-batch mean
would over-weight short batches, which length grouping makes common).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import torch
import torch.nn.functional as F

from genleak.core.progress import Reporter
from genleak.contracts.finetune import TrainConfig
from genleak.finetuner.data import IGNORE_INDEX, EncodedDataset, batch_order, collate
from genleak.finetuner.metrics import EpochMetrics, EpochRecorder

log = logging.getLogger(__name__)

STAGE = "train"


class TrainLoop:
    def __init__(
        self,
        model: torch.nn.Module,
        config: TrainConfig,
        data: EncodedDataset,
        pad_id: int,
        reporter: Reporter,
        device: str | torch.device = "cpu",
    ):
        self.model = model
        self.device = torch.device(device)
        self.config = config
        self.data = data
        self.pad_id = pad_id
        self.reporter = reporter
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = self._build_optimizer()
        self.batches_per_epoch = len(self.epoch_batches(1))
        self.steps_per_epoch = math.ceil(self.batches_per_epoch / config.grad_accum)
        self.total_steps = self.steps_per_epoch * config.epochs
        self.scheduler = self._build_scheduler()
        self.global_step = 0

    def _build_optimizer(self) -> torch.optim.Optimizer:
        # as in HF Trainer: no weight decay on biases and norm scales (1-D tensors)
        decay = [p for p in self.params if p.ndim >= 2]
        no_decay = [p for p in self.params if p.ndim < 2]
        groups = [
            {"params": decay, "weight_decay": self.config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        return torch.optim.AdamW(
            [g for g in groups if g["params"]],
            lr=self.config.learning_rate,
            betas=(self.config.adam_beta1, self.config.adam_beta2),
            eps=self.config.adam_epsilon,
        )

    def _build_scheduler(self) -> Any:
        from transformers import get_scheduler

        return get_scheduler(
            self.config.scheduler,
            self.optimizer,
            num_warmup_steps=math.ceil(self.config.warmup_ratio * self.total_steps),
            num_training_steps=self.total_steps,
        )

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        c = self.config
        return batch_order(self.data.lengths, c.batch_size, c.seed, epoch, c.group_by_length, c.length_group_megabatch)

    def run_epoch(self, epoch: int) -> EpochMetrics:
        # reseeding per epoch makes dropout reproducible from (seed, epoch), so a resumed run matches
        torch.manual_seed(self.config.seed + epoch)
        self.model.train()
        recorder = EpochRecorder(epoch)
        batches = self.epoch_batches(epoch)
        for start in range(0, len(batches), self.config.grad_accum):
            loss = self._optimizer_step(batches[start : start + self.config.grad_accum], recorder)
            recorder.step_losses.append(loss)
            self.global_step += 1
            self.reporter.update(
                STAGE, self.global_step, self.total_steps, f"epoch {epoch}/{self.config.epochs} loss {loss:.4f}"
            )
        metrics = recorder.finish()
        log.info("epoch %d: loss %.4f, %.0f tok/s", epoch, metrics.mean_loss, metrics.tokens_per_s)
        return metrics

    def _optimizer_step(self, group: list[list[int]], recorder: EpochRecorder) -> float:
        batches = [self._on_device(collate([self.data.ids[i] for i in idx], self.pad_id)) for idx in group]
        group_tokens = max(sum(_target_count(b["labels"]) for b in batches), 1)
        loss_total = 0.0
        for batch in batches:
            self.reporter.check()
            loss_sum, n_targets = self._forward_loss(batch)
            (loss_sum / group_tokens).backward()
            batch_loss = loss_sum.item()
            loss_total += batch_loss
            recorder.add_batch(batch_loss, n_targets, int(batch["attention_mask"].sum()), batch["input_ids"].numel())
        if self.config.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.params, self.config.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss_total / group_tokens

    def _on_device(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {name: tensor.to(self.device) for name, tensor in batch.items()}

    def _forward_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        logits = self.model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False
        ).logits
        targets = batch["labels"][:, 1:]
        loss_sum = F.cross_entropy(
            logits[:, :-1].float().reshape(-1, logits.size(-1)),
            targets.reshape(-1),
            ignore_index=IGNORE_INDEX,
            reduction="sum",
        )
        return loss_sum, _target_count(batch["labels"])


def _target_count(labels: torch.Tensor) -> int:
    """Tokens that are predicted: every labelled position except each row's first."""
    return int((labels[:, 1:] != IGNORE_INDEX).sum())
