"""The training loop: AdamW, warmup + decay schedule, gradient accumulation, on an accelerate Accelerator.

Batches are built on the host (length-grouped, dynamically padded) and moved to the model's
device. The Accelerator autocasts the forward pass for mixed precision, scales an fp16 loss,
and averages gradients over the processes of a data-parallel run.

Loss is summed over tokens and divided by the label tokens of the whole optimizer step (all of
its micro-batches, on every process), so every token weighs the same whatever the batch widths
(a per-micro-batch mean would over-weight short batches, which length grouping makes common) and
whatever the number of processes: data-parallel ranks share out one step's micro-batches, and the
step's gradient is the one a single process computes for them (up to floating-point summation order).
"""

from __future__ import annotations

import contextlib
import logging
import math
from typing import Any

import torch
import torch.nn.functional as F
from accelerate import Accelerator

from genleak.core.progress import Reporter
from genleak.contracts.finetune import TrainConfig
from genleak.finetuner.data import IGNORE_INDEX, EncodedDataset, batch_order, collate
from genleak.finetuner.metrics import EpochMetrics, EpochRecorder

log = logging.getLogger(__name__)

STAGE = "train"


def rank_share(group: list[list[int]], rank: int, world: int) -> list[list[int]]:
    """This process's micro-batches of one optimizer step's `group`.

    Whole micro-batches are dealt out round-robin; a step with fewer micro-batches than processes
    (grad_accum below the GPU count, or an epoch's short last step) deals out its rows instead, so
    the GPUs share the work. A rank can end up with nothing: it then runs a pass that weighs zero,
    because every rank must take part in each gradient all-reduce.
    """
    if world == 1:
        return group
    if len(group) >= world:
        return group[rank::world]
    mine = [row for batch in group for row in batch][rank::world]
    return [mine] if mine else []


class TrainLoop:
    def __init__(
        self,
        model: torch.nn.Module,
        config: TrainConfig,
        data: EncodedDataset,
        pad_id: int,
        reporter: Reporter,
        accelerator: Accelerator,
        sharded: bool = False,
    ):
        self.accelerator = accelerator
        self.sharded = sharded  # the model is FSDP2-sharded over the processes (genleak.finetuner.sharding)
        self.device = accelerator.device
        self.rank, self.world = accelerator.process_index, accelerator.num_processes
        self.config = config
        self.data = data
        self.pad_id = pad_id
        self.reporter = reporter
        self.module = model  # the model itself, as checkpoints save it
        self.params = [p for p in model.parameters() if p.requires_grad]
        if sharded:  # already sharded in place; accelerate would wrap it in DDP on top
            self.model, self.optimizer = model, self._build_optimizer()
        else:  # prepare: moves the model, wraps it in DistributedDataParallel when launched as several ranks
            self.model, self.optimizer = accelerator.prepare(model, self._build_optimizer())
        self.batches_per_epoch = len(self.epoch_batches(1))
        self.steps_per_epoch = math.ceil(self.batches_per_epoch / config.grad_accum)
        self.total_steps = self.steps_per_epoch * config.epochs
        # not prepared: accelerate would step it once per process; it steps once per optimizer step here
        self.scheduler = self._build_scheduler()
        self.global_step = 0
        self.skipped_steps = 0

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
            getattr(self.optimizer, "optimizer", self.optimizer),  # accelerate's wrapper, or the optimizer itself
            num_warmup_steps=math.ceil(self.config.warmup_ratio * self.total_steps),
            num_training_steps=self.total_steps,
        )

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        c = self.config
        return batch_order(self.data.lengths, c.batch_size, c.seed, epoch, c.group_by_length, c.length_group_megabatch)

    def run_epoch(self, epoch: int) -> EpochMetrics:
        # reseeding per epoch makes dropout reproducible from (seed, epoch), so a resumed run matches;
        # each rank of a data-parallel run draws its own masks for its own micro-batches
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
        metrics = self._all_ranks(recorder).finish()
        log.info("epoch %d: loss %.4f, %.0f tok/s", epoch, metrics.mean_loss, metrics.tokens_per_s)
        return metrics

    def _optimizer_step(self, group: list[list[int]], recorder: EpochRecorder) -> float:
        mine = rank_share(group, self.rank, self.world)
        # a rank without rows computes on the step's first row and weighs it zero (see rank_share)
        weights = [1.0] * len(mine) or [0.0]
        batches = [self._on_device(collate([self.data.ids[i] for i in idx], self.pad_id))
                   for idx in (mine or [group[0][:1]])]
        group_tokens = self._sum_over_ranks(sum(_target_count(b["labels"]) for b, w in zip(batches, weights) if w))
        group_tokens = max(group_tokens, 1)
        loss_total = 0.0
        for index, (batch, weight) in enumerate(zip(batches, weights)):
            self.reporter.check()
            last = index == len(batches) - 1
            # gradients are all-reduced (reduce-scattered when sharded) once per step, on the last micro-batch
            with self._gradient_sync(last):
                with self.accelerator.autocast():
                    loss_sum, n_targets = self._forward_loss(batch)
                # DDP averages gradients over ranks; multiplying by the rank count makes that average a sum
                self.accelerator.backward(loss_sum * (weight * self.world) / group_tokens)
            if weight:
                batch_loss = loss_sum.item()
                loss_total += batch_loss
                recorder.add_batch(batch_loss, n_targets, int(batch["attention_mask"].sum()),
                                   batch["input_ids"].numel())
        if self.config.max_grad_norm is not None:
            self.accelerator.clip_grad_norm_(self.params, self.config.max_grad_norm)
        self.optimizer.step()
        if self.accelerator.optimizer_step_was_skipped:  # fp16 overflow: the scaler lowered its scale instead
            self.skipped_steps += 1
        else:
            self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return self._sum_over_ranks(loss_total) / group_tokens

    def _gradient_sync(self, sync: bool) -> contextlib.AbstractContextManager:
        if self.sharded:
            from genleak.finetuner.sharding import set_gradient_sync

            set_gradient_sync(self.model, sync)
            return contextlib.nullcontext()
        return contextlib.nullcontext() if sync else self.accelerator.no_sync(self.model)

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

    def _sum_over_ranks(self, value: float) -> float:
        """`value` summed over the processes (itself, untouched, in a single process)."""
        if self.world == 1:
            return value
        total = self.accelerator.reduce(torch.tensor([value], dtype=torch.float64, device=self.device), "sum")
        return total.item() if isinstance(value, float) else int(total.item())

    def _all_ranks(self, recorder: EpochRecorder) -> EpochRecorder:
        """The epoch's tallies over every process's micro-batches (step losses are already global)."""
        if self.world > 1:
            recorder.loss_sum = self._sum_over_ranks(float(recorder.loss_sum))
            for name in ("loss_tokens", "useful_tokens", "padded_tokens"):
                setattr(recorder, name, self._sum_over_ranks(getattr(recorder, name)))
        return recorder


def _target_count(labels: torch.Tensor) -> int:
    """Tokens that are predicted: every labelled position except each row's first."""
    return int((labels[:, 1:] != IGNORE_INDEX).sum())
