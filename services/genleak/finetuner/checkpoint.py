"""Per-epoch checkpoint folders, written atomically, and the train state that lets a run resume.

    out_dir/epoch-{k}/adapter/        peft adapter (LoRA family only)
    out_dir/epoch-{k}/merged/         plain HF model + tokenizer files
    out_dir/epoch-{k}/train_state/    trainable weights, optimizer and schedule (safetensors + json)
    out_dir/epoch-{k}/checkpoint.json run key, step, epoch metrics

Each folder is built under a hidden temp name and renamed into place, so an `epoch-{k}`
that exists is complete. A cancelled run removes its temp folder; a killed one may leave a
hidden `.epoch-*` folder, which the next run clears.

The train state is saved from host copies of the weights and optimizer state (the very tensors
when training runs on the CPU) and loaded back onto the model's device. A sharded (FSDP) run hands
in its state gathered in full on rank 0 (`FullState`) and writes the same layout: optimizer state
keyed by parameter index, in the order of the optimizer's parameter groups.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any, NamedTuple

import torch
from safetensors.torch import load_file, save_file

from genleak.core.errors import InvalidSpec
from genleak.finetuner.loading import save_merged
from genleak.finetuner.loop import TrainLoop
from genleak.finetuner.methods.registry import FineTuneMethod
from genleak.finetuner.metrics import EpochMetrics
from genleak.finetuner.result import EpochCheckpoint

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "checkpoint.json"
TRAIN_STATE = "train_state"


class FullState(NamedTuple):
    """A sharded run's weights and optimizer state, gathered in full (torch's FQN-keyed layout)."""

    weights: dict[str, torch.Tensor]
    optimizer: dict[str, Any]


def epoch_dir(out_dir: Path, epoch: int) -> Path:
    return out_dir / f"epoch-{epoch}"


def clear_leftovers(out_dir: Path) -> None:
    for leftover in out_dir.glob(".epoch-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def completed_epochs(out_dir: Path, run_key: str, epochs: int) -> dict[int, dict[str, Any]]:
    """checkpoint.json of every finished epoch of this run; checkpoints of another run are refused."""
    found: dict[int, dict[str, Any]] = {}
    for epoch in range(1, epochs + 1):
        path = epoch_dir(out_dir, epoch) / CHECKPOINT_FILE
        if path.is_file():
            info = json.loads(path.read_text())
            if info.get("run_key") != run_key:
                raise InvalidSpec(
                    f"{path.parent} holds a checkpoint of a different run (spec, data or base model differ); "
                    "use another out_dir or remove it",
                    field="out_dir",
                )
            found[epoch] = info
    return found


def resume_point(found: dict[int, dict[str, Any]], epochs: int) -> int:
    """The last epoch training can continue from (0 = start over)."""
    if epochs in found:
        return epochs
    resumable = [k for k, info in found.items() if info.get("has_train_state")]
    return max(resumable, default=0)


def checkpoint_from_info(out_dir: Path, info: dict[str, Any], resumed: bool) -> EpochCheckpoint:
    path = epoch_dir(out_dir, info["epoch"])
    return EpochCheckpoint(
        epoch=info["epoch"],
        path=path,
        adapter_dir=path / "adapter" if info["has_adapter"] else None,
        merged_dir=path / "merged" if info["has_merged"] else None,
        global_step=info["global_step"],
        mean_loss=info["metrics"]["mean_loss"],
        resumed=resumed,
    )


class CheckpointWriter:
    def __init__(
        self,
        out_dir: Path,
        run_key: str,
        method: FineTuneMethod,
        tokenizer_src: Path,
        save_merged: bool,
        save_state: bool,
    ):
        self.out_dir = out_dir
        self.run_key = run_key
        self.method = method
        self.tokenizer_src = tokenizer_src
        self.save_merged = save_merged
        self.save_state = save_state

    @property
    def writes_merged(self) -> bool:
        # without an adapter the merged folder is the only model a checkpoint can hold
        return self.save_merged or not self.method.has_adapter

    def write(self, model: torch.nn.Module, loop: TrainLoop, metrics: EpochMetrics,
              full_state: FullState | None = None) -> EpochCheckpoint:
        tmp = Path(tempfile.mkdtemp(prefix=f".epoch-{metrics.epoch}.", dir=self.out_dir))
        tmp.chmod(0o755)  # mkdtemp makes it private; servers reading checkpoints may run as another user
        try:
            info = self._fill(tmp, model, loop, metrics, full_state)
            _publish(tmp, epoch_dir(self.out_dir, metrics.epoch))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log.info("checkpoint epoch %d written to %s", metrics.epoch, epoch_dir(self.out_dir, metrics.epoch))
        return checkpoint_from_info(self.out_dir, info, resumed=False)

    def _fill(self, tmp: Path, model: torch.nn.Module, loop: TrainLoop, metrics: EpochMetrics,
              full_state: FullState | None) -> dict[str, Any]:
        if self.method.has_adapter:
            self.method.save_adapter(model, tmp / "adapter")
        if self.writes_merged:
            weights = full_state.weights if full_state else None  # sharding is for full fine-tuning only
            save_merged(self.method.merged_model(model), self.tokenizer_src, tmp / "merged", weights)
        if self.save_state:
            save_train_state(model, loop, tmp / TRAIN_STATE, full_state)
        info = {
            "run_key": self.run_key,
            "epoch": metrics.epoch,
            "global_step": loop.global_step,
            "has_adapter": self.method.has_adapter,
            "has_merged": self.writes_merged,
            "has_train_state": self.save_state,
            "metrics": asdict(metrics),
        }
        (tmp / CHECKPOINT_FILE).write_text(json.dumps(info, indent=1))
        return info


def _publish(tmp: Path, final: Path) -> None:
    if final.exists():  # an earlier, equivalent run's copy (same run key) being retrained
        shutil.rmtree(final)
    os.replace(tmp, final)


def save_train_state(model: torch.nn.Module, loop: TrainLoop, dest: Path, full_state: FullState | None = None) -> None:
    dest.mkdir(parents=True)
    if full_state is None:
        trainable = {name: p.detach().cpu().contiguous() for name, p in model.named_parameters() if p.requires_grad}
        optim = loop.optimizer.state_dict()
    else:
        trainable = {name: t.contiguous() for name, t in full_state.weights.items()}
        optim = _indexed_optimizer_state(full_state.optimizer)
    save_file(trainable, str(dest / "trainable.safetensors"))
    tensors = {
        f"{idx}.{key}": value.cpu().contiguous()
        for idx, state in optim["state"].items()
        for key, value in state.items()
    }
    save_file(tensors, str(dest / "optimizer.safetensors"))
    state = {
        "global_step": loop.global_step,
        "param_groups": optim["param_groups"],
        "scheduler": loop.scheduler.state_dict(),
    }
    (dest / "state.json").write_text(json.dumps(state, indent=1))


def _indexed_optimizer_state(by_name: dict[str, Any]) -> dict[str, Any]:
    """torch's FQN-keyed full optimizer state -> the index-keyed layout of `Optimizer.state_dict()`."""
    order = [name for group in by_name["param_groups"] for name in group["params"]]
    index = {name: i for i, name in enumerate(order)}
    return {"state": {index[name]: state for name, state in by_name["state"].items()},
            "param_groups": [{**group, "params": [index[n] for n in group["params"]]}
                             for group in by_name["param_groups"]]}


def _named_optimizer_state(by_index: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """The inverse: index-keyed state back to FQNs, `names` in the optimizer's parameter order."""
    return {"state": {names[idx]: state for idx, state in by_index["state"].items()},
            "param_groups": [{**group, "params": [names[i] for i in group["params"]]}
                             for group in by_index["param_groups"]]}


def load_train_state(model: torch.nn.Module, loop: TrainLoop, src: Path) -> None:
    weights = load_file(str(src / "trainable.safetensors"))
    params = {name: p for name, p in model.named_parameters() if p.requires_grad}
    if set(weights) != set(params):
        raise InvalidSpec(f"train state in {src} does not match the model's trainable parameters", field="out_dir")
    state = json.loads((src / "state.json").read_text())
    per_param: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in load_file(str(src / "optimizer.safetensors")).items():
        idx, name = key.split(".", 1)
        per_param.setdefault(int(idx), {})[name] = value
    optimizer_state = {"state": per_param, "param_groups": state["param_groups"]}
    if loop.sharded:
        from genleak.finetuner.sharding import load_full_state

        names = {id(p): name for name, p in model.named_parameters()}
        order = [names[id(p)] for group in loop.optimizer.param_groups for p in group["params"]]
        load_full_state(model, loop.optimizer, weights, _named_optimizer_state(optimizer_state, order))
    else:
        with torch.no_grad():
            for name, value in weights.items():
                params[name].copy_(value)  # copy_ moves host tensors onto the parameter's device
        # load_state_dict moves each moment to its parameter's device and dtype (the step count stays on the host)
        loop.optimizer.load_state_dict(optimizer_state)
    loop.scheduler.load_state_dict(state["scheduler"])
    loop.global_step = state["global_step"]
