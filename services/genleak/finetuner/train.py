"""`finetune`: train a causal LM on records and write one checkpoint per epoch.

The run computes on an accelerate Accelerator (`genleak.finetuner.runtime`): a GPU when one is
visible (or the caller's `device`), the CPU otherwise, in the spec's mixed precision. With
`processes` > 1 the same function runs once per rank under torchrun (`genleak.finetuner.distributed`):
every rank trains its share of each optimizer step, rank 0 writes the checkpoints. Before any weight
loads, a lower bound on the run's memory is checked against the device (`genleak.finetuner.memory`).
The result records what ran where (`ComputeRecord`).
"""

from __future__ import annotations

import json
import logging
import os
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator

from genleak.compute.device import ComputeMeter
from genleak.compute.threads import available_cpus, torch_threads
from genleak.contracts.compute import ComputeRecord
from genleak.core.hashing import canonical_json, sha256_bytes, sha256_file
from genleak.core.models import check_model_dir
from genleak.core.progress import Reporter
from genleak.core.specs import parse_spec
from genleak.finetuner import checkpoint as ckpt
from genleak.finetuner import memory
from genleak.finetuner.data import EncodedDataset, encode_examples, record_examples, select_records
from genleak.finetuner.loading import DTYPES, load_base_model, load_tokenizer, pad_token_id
from genleak.finetuner.loop import TrainLoop
from genleak.finetuner.metrics import EpochMetrics, TrainMetrics
from genleak.finetuner.result import EpochCheckpoint, FineTuneResult
from genleak.finetuner.runtime import (
    data_parallel_processes,
    launched_as_rank,
    precision_label,
    training_accelerator,
)
from genleak.finetuner.spec import FineTuneSpec

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"


def finetune(
    model_dir: Path,
    records: Sequence[dict[str, Any]],
    spec: FineTuneSpec | dict[str, Any],
    out_dir: Path,
    reporter: Reporter,
    device: str | torch.device | None = None,
    processes: int | None = 1,
) -> FineTuneResult:
    """Fine-tune `model_dir` on `records`; checkpoints go to out_dir/epoch-{k}/.

    `device` overrides where training runs (default: accelerate's choice, a GPU when one is visible).
    `processes` > 1 trains data-parallel in that many processes of one machine (one GPU each, or
    CPU processes on the gloo backend; None = one per visible GPU); the checkpoints equal a single
    process's up to floating-point summation order (and dropout masks, which each rank draws).
    Raises InvalidSpec, ModelNotFound, UnsafeArtifact, and Cancelled (from the reporter)
    in which case no incomplete epoch folder is left under its final name.
    """
    started = time.perf_counter()
    spec = spec if isinstance(spec, FineTuneSpec) else parse_spec(FineTuneSpec, spec)
    model_dir = check_model_dir(Path(model_dir), where="model_dir")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    processes = data_parallel_processes(processes, spec.train)
    if processes > 1 and not launched_as_rank():
        from genleak.finetuner.distributed import launch_finetune

        return launch_finetune(model_dir, records, spec, out_dir, reporter, processes, device)
    threads = spec.train.num_threads or max(1, available_cpus() // _local_world_size())
    with torch_threads(threads), training_accelerator(spec.train, device) as accelerator, \
            ComputeMeter(accelerator.device) as meter:
        if accelerator.is_main_process:
            ckpt.clear_leftovers(out_dir)
        accelerator.wait_for_everyone()
        return _finetune(model_dir, records, spec, out_dir, reporter, started, accelerator, meter)


def _finetune(
    model_dir: Path,
    records: Sequence[dict[str, Any]],
    spec: FineTuneSpec,
    out_dir: Path,
    reporter: Reporter,
    started: float,
    accelerator: Accelerator,
    meter: ComputeMeter,
) -> FineTuneResult:
    tokenizer = load_tokenizer(model_dir, spec.trust_remote_code)
    examples = record_examples(select_records(records, spec.train.last_n), spec.data, tokenizer)
    texts = [example.text for example in examples]
    data = encode_examples(tokenizer, examples, spec.data, spec.train.max_length)
    run_key = _run_key(spec, texts, model_dir)

    found = ckpt.completed_epochs(out_dir, run_key, spec.train.epochs)
    start = ckpt.resume_point(found, spec.train.epochs)
    prior = [EpochMetrics.from_json(found[k]["metrics"]) for k in sorted(found) if k <= start]
    kept = [ckpt.checkpoint_from_info(out_dir, found[k], resumed=True) for k in sorted(found) if k <= start]
    if start < spec.train.epochs:
        _check_memory(model_dir, spec, data, accelerator)
        new_metrics, new_ckpts = _train(model_dir, tokenizer, data, spec, out_dir, run_key, start, reporter,
                                        accelerator)
        prior, kept = prior + new_metrics, kept + new_ckpts
    else:
        log.info("all %d epochs already complete in %s", start, out_dir)

    metrics = TrainMetrics(
        tuple(prior), len(data), data.n_truncated, spec.train.max_length, time.perf_counter() - started
    )
    compute = _compute_record(meter, spec, metrics, accelerator.num_processes)
    summary = {"spec_hash": spec.spec_hash(), "run_key": run_key, **metrics.to_json(),
               "compute": compute.model_dump(mode="json")}
    metrics_path = out_dir / METRICS_FILE
    if accelerator.is_main_process:
        _write_json_atomic(metrics_path, summary)
    return FineTuneResult(out_dir, spec.spec_hash(), run_key, tuple(kept), metrics, metrics_path, compute)


def _compute_record(meter: ComputeMeter, spec: FineTuneSpec, metrics: TrainMetrics, processes: int) -> ComputeRecord:
    """The model computed in the spec's precision; its throughput is useful (non-padding) tokens per second of
    the epochs trained now, over all processes (None when every epoch was found complete)."""
    record = meter.record(precision_label(spec.train), tokens_per_second=metrics.summary()["useful_tokens_per_s"])
    return record.model_copy(update={"processes": processes})


def _check_memory(model_dir: Path, spec: FineTuneSpec, data: EncodedDataset, accelerator: Accelerator) -> None:
    """Refuse, before loading a weight, a run whose lower-bound memory exceeds one device's."""
    meta = memory.meta_model(model_dir, DTYPES[spec.train.dtype], spec.trust_remote_code,
                                     spec.plugin().build(spec.method_config))
    rows = min(spec.train.batch_size, len(data)) or 1
    shards = accelerator.num_processes if spec.train.sharding == "fsdp" else 1
    shape = memory.estimate_memory(meta, spec.train, rows, max(data.lengths, default=1), shards)
    memory.check_fits(shape, accelerator.device, memory.device_capacity(accelerator.device))


def _train(
    model_dir: Path,
    tokenizer: Any,
    data: EncodedDataset,
    spec: FineTuneSpec,
    out_dir: Path,
    run_key: str,
    start_epoch: int,
    reporter: Reporter,
    accelerator: Accelerator,
) -> tuple[list[EpochMetrics], list[EpochCheckpoint]]:
    train = spec.train
    method = spec.plugin().build(spec.method_config)
    # On the device before the method wraps it: adapters (and PiSSA's SVD) are built where the weights are.
    base = load_base_model(model_dir, train.dtype, spec.trust_remote_code, accelerator.device)
    if train.gradient_checkpointing:
        # Non-reentrant checkpointing: gradients reach adapters of frozen layers without enable_input_require_grads.
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    with tempfile.TemporaryDirectory(prefix="genleak-finetune-") as scratch:
        _seed_everything(train.seed)  # adapter init draws from the RNG; every rank draws the same
        model = method.wrap(base, Path(scratch))
        sharded = train.sharding == "fsdp" and accelerator.num_processes > 1
        if sharded:
            from genleak.finetuner.sharding import shard_model

            model = shard_model(model)
        loop = TrainLoop(model, train, data, pad_token_id(tokenizer), reporter, accelerator, sharded)
        writer = ckpt.CheckpointWriter(out_dir, run_key, method, model_dir, train.save_merged, train.save_train_state)
        if start_epoch:
            ckpt.load_train_state(loop.module, loop, ckpt.epoch_dir(out_dir, start_epoch) / ckpt.TRAIN_STATE)
            log.info("resuming after epoch %d (step %d)", start_epoch, loop.global_step)
        _log_plan(loop, data)
        metrics, checkpoints = [], []
        for epoch in range(start_epoch + 1, train.epochs + 1):
            metrics.append(loop.run_epoch(epoch))
            if train.save_every_epoch or epoch == train.epochs:
                full_state = _gathered_state(loop) if sharded else None  # a collective: every rank gathers
                if accelerator.is_main_process:  # ranks hold identical weights; one writes them
                    checkpoints.append(writer.write(loop.module, loop, metrics[-1], full_state))
                accelerator.wait_for_everyone()
        if loop.skipped_steps:
            log.warning("%d of %d optimizer steps were skipped: fp16 gradients overflowed (the loss scale was "
                        "lowered each time)", loop.skipped_steps, loop.global_step)
    return metrics, checkpoints


def _gathered_state(loop: TrainLoop) -> ckpt.FullState:
    from genleak.finetuner.sharding import gather_full_state

    return ckpt.FullState(*gather_full_state(loop.model, loop.optimizer))


def _run_key(spec: FineTuneSpec, texts: list[str], model_dir: Path) -> str:
    """Identity of a run's checkpoints: a rerun may only reuse epochs if all of this matches."""
    payload = {
        "spec": spec.spec_hash(),
        "texts": sha256_bytes(canonical_json(texts).encode()),
        "model_dir": str(model_dir.resolve()),
        "model_config": sha256_file(model_dir / "config.json"),
    }
    return sha256_bytes(canonical_json(payload).encode())


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def _local_world_size() -> int:
    return int(os.environ.get("LOCAL_WORLD_SIZE", "1"))


def _log_plan(loop: TrainLoop, data: EncodedDataset) -> None:
    trainable = sum(p.numel() for p in loop.params)
    total = sum(p.numel() for p in loop.module.parameters())
    log.info(
        "training %d examples (%d truncated), %d batches/epoch, %d steps, %.3fM of %.3fM params trainable, "
        "%d threads, on %s (process %d of %d)",
        len(data),
        data.n_truncated,
        loop.batches_per_epoch,
        loop.total_steps,
        trainable / 1e6,
        total / 1e6,
        torch.get_num_threads(),
        loop.device,
        loop.rank + 1,
        loop.world,
    )


def _write_json_atomic(path: Path, payload: dict[str, Any]) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    os.replace(tmp, path)
    return path
