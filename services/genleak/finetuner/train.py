"""`finetune`: train a causal LM on records and write one checkpoint per epoch.

The model and its batches live on `genleak.compute.device.pick_device()`'s device (a GPU when one
is visible, or the caller's `device`); on a CPU that is where they always were, so CPU runs train
exactly as before. The result records what ran where (`ComputeRecord`).
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

from genleak.compute.device import ComputeMeter, pick_device
from genleak.contracts.compute import ComputeRecord
from genleak.core.hashing import canonical_json, sha256_bytes, sha256_file
from genleak.core.models import check_model_dir
from genleak.core.progress import Reporter
from genleak.core.specs import parse_spec
from genleak.finetuner import checkpoint as ckpt
from genleak.finetuner.data import EncodedDataset, encode_examples, record_examples, select_records
from genleak.finetuner.loading import load_base_model, load_tokenizer, pad_token_id
from genleak.finetuner.loop import TrainLoop
from genleak.finetuner.metrics import EpochMetrics, TrainMetrics
from genleak.finetuner.result import EpochCheckpoint, FineTuneResult
from genleak.finetuner.spec import FineTuneSpec
from genleak.compute.threads import torch_threads

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"


def finetune(
    model_dir: Path,
    records: Sequence[dict[str, Any]],
    spec: FineTuneSpec | dict[str, Any],
    out_dir: Path,
    reporter: Reporter,
    device: str | torch.device | None = None,
) -> FineTuneResult:
    """Fine-tune `model_dir` on `records`; checkpoints go to out_dir/epoch-{k}/.

    `device` overrides where training runs (default: accelerate's choice, a GPU when one is visible).
    Raises InvalidSpec, ModelNotFound, UnsafeArtifact, and Cancelled (from the reporter)
    in which case no incomplete epoch folder is left under its final name.
    """
    started = time.perf_counter()
    spec = spec if isinstance(spec, FineTuneSpec) else parse_spec(FineTuneSpec, spec)
    model_dir = check_model_dir(Path(model_dir), where="model_dir")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt.clear_leftovers(out_dir)
    with torch_threads(spec.train.num_threads), ComputeMeter(pick_device(device)) as meter:
        return _finetune(model_dir, records, spec, out_dir, reporter, started, meter)


def _finetune(
    model_dir: Path,
    records: Sequence[dict[str, Any]],
    spec: FineTuneSpec,
    out_dir: Path,
    reporter: Reporter,
    started: float,
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
        new_metrics, new_ckpts = _train(model_dir, tokenizer, data, spec, out_dir, run_key, start, reporter,
                                        meter.device)
        prior, kept = prior + new_metrics, kept + new_ckpts
    else:
        log.info("all %d epochs already complete in %s", start, out_dir)

    metrics = TrainMetrics(
        tuple(prior), len(data), data.n_truncated, spec.train.max_length, time.perf_counter() - started
    )
    compute = _compute_record(meter, spec, metrics)
    summary = {"spec_hash": spec.spec_hash(), "run_key": run_key, **metrics.to_json(),
               "compute": compute.model_dump(mode="json")}
    metrics_path = _write_json_atomic(out_dir / METRICS_FILE, summary)
    return FineTuneResult(out_dir, spec.spec_hash(), run_key, tuple(kept), metrics, metrics_path, compute)


def _compute_record(meter: ComputeMeter, spec: FineTuneSpec, metrics: TrainMetrics) -> ComputeRecord:
    """The model computed in the spec's dtype; its throughput is useful (non-padding) tokens per second of
    the epochs trained now (None when every epoch was found complete)."""
    return meter.record(spec.train.dtype, tokens_per_second=metrics.summary()["useful_tokens_per_s"])


def _train(
    model_dir: Path,
    tokenizer: Any,
    data: EncodedDataset,
    spec: FineTuneSpec,
    out_dir: Path,
    run_key: str,
    start_epoch: int,
    reporter: Reporter,
    device: torch.device,
) -> tuple[list[EpochMetrics], list[EpochCheckpoint]]:
    train = spec.train
    method = spec.plugin().build(spec.method_config)
    # On the device before the method wraps it: adapters (and PiSSA's SVD) are built where the weights are.
    base = load_base_model(model_dir, train.dtype, spec.trust_remote_code, device)
    if train.gradient_checkpointing:
        # Non-reentrant checkpointing: gradients reach adapters of frozen layers without enable_input_require_grads.
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    with tempfile.TemporaryDirectory(prefix="genleak-finetune-") as scratch:
        _seed_everything(train.seed)  # adapter init draws from the RNG
        model = method.wrap(base, Path(scratch))
        loop = TrainLoop(model, train, data, pad_token_id(tokenizer), reporter, device)
        writer = ckpt.CheckpointWriter(out_dir, run_key, method, model_dir, train.save_merged, train.save_train_state)
        if start_epoch:
            ckpt.load_train_state(model, loop, ckpt.epoch_dir(out_dir, start_epoch) / ckpt.TRAIN_STATE)
            log.info("resuming after epoch %d (step %d)", start_epoch, loop.global_step)
        _log_plan(model, loop, data)
        metrics, checkpoints = [], []
        for epoch in range(start_epoch + 1, train.epochs + 1):
            metrics.append(loop.run_epoch(epoch))
            if train.save_every_epoch or epoch == train.epochs:
                checkpoints.append(writer.write(model, loop, metrics[-1]))
    return metrics, checkpoints


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


def _log_plan(model: torch.nn.Module, loop: TrainLoop, data: EncodedDataset) -> None:
    trainable = sum(p.numel() for p in loop.params)
    total = sum(p.numel() for p in model.parameters())
    log.info(
        "training %d examples (%d truncated), %d batches/epoch, %d steps, %.3fM of %.3fM params trainable, "
        "%d threads, on %s",
        len(data),
        data.n_truncated,
        loop.batches_per_epoch,
        loop.total_steps,
        trainable / 1e6,
        total / 1e6,
        torch.get_num_threads(),
        loop.device,
    )


def _write_json_atomic(path: Path, payload: dict[str, Any]) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    os.replace(tmp, path)
    return path
