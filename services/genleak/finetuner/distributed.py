"""Data-parallel fine-tuning: one fine-tune as several processes of one machine, launched with torchrun.

The finetuner writes the job (spec, records, folders) to a private folder and starts
`torchrun --standalone --nproc-per-node N -m genleak.finetuner.worker JOB`. Each rank runs the very
`finetune` a single process runs (accelerate wraps the model in DistributedDataParallel: NCCL on
GPUs, gloo on CPUs); rank 0 writes the checkpoints, the progress lines this process relays to the
job's reporter, and the result. Cancelling the job stops the whole process group; the epochs
already written stay, so a rerun resumes from the last one as a single-process run would.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from genleak.core import errors
from genleak.core.errors import InvalidSpec
from genleak.core.progress import Reporter
from genleak.finetuner.result import FineTuneResult
from genleak.finetuner.runtime import USE_CPU_ENV
from genleak.finetuner.spec import FineTuneSpec

log = logging.getLogger(__name__)

JOB_FILE, RECORDS_FILE, PROGRESS_FILE, RESULT_FILE, LOG_FILE = (
    "job.json", "records.jsonl", "progress.jsonl", "result.json", "ranks.log")
POLL_S = 0.5
STOP_GRACE_S = 10.0
LOG_TAIL_CHARS = 3000


def error_file(rank: int) -> str:
    return f"error-{rank}.json"


def launch_finetune(model_dir: Path, records: Sequence[dict[str, Any]], spec: FineTuneSpec, out_dir: Path,
                    reporter: Reporter, processes: int, device: str | torch.device | None = None) -> FineTuneResult:
    """Run `finetune` as `processes` data-parallel ranks and return rank 0's result."""
    on_cpu = _trains_on_cpu(device, processes)
    with tempfile.TemporaryDirectory(prefix="genleak-ddp-") as tmp:
        job = Path(tmp)
        _write_job(job, model_dir, records, spec, out_dir)
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1",
                   f"--nproc-per-node={processes}", "-m", "genleak.finetuner.worker", str(job)]
        env = {**os.environ, USE_CPU_ENV: "true" if on_cpu else "false",
               "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        log.info("fine-tuning with %d data-parallel processes on %s", processes, "CPUs" if on_cpu else "GPUs")
        with open(job / LOG_FILE, "wb") as ranks_log:
            proc = subprocess.Popen(command, env=env, stdout=ranks_log, stderr=subprocess.STDOUT,
                                    start_new_session=True)  # its own group: cancelling stops every rank
            returncode = _follow(proc, job / PROGRESS_FILE, reporter)
        if returncode != 0:
            raise _rank_error(job, processes, returncode)
        return FineTuneResult.from_json(json.loads((job / RESULT_FILE).read_text()))


def _trains_on_cpu(device: str | torch.device | None, processes: int) -> bool:
    if device is not None and torch.device(device).type == "cpu":
        return True
    if not torch.cuda.is_available():
        return True
    if processes > torch.cuda.device_count():
        raise InvalidSpec(f"{processes} data-parallel processes need {processes} GPUs; torch sees "
                          f"{torch.cuda.device_count()}", field="processes")
    return False


def _write_job(job: Path, model_dir: Path, records: Sequence[dict[str, Any]], spec: FineTuneSpec,
               out_dir: Path) -> None:
    payload = {"model_dir": str(model_dir), "out_dir": str(out_dir), "spec": spec.model_dump(mode="json")}
    (job / JOB_FILE).write_text(json.dumps(payload))
    with open(job / RECORDS_FILE, "w") as out:
        for record in records:
            out.write(json.dumps(record) + "\n")


def _follow(proc: subprocess.Popen, progress: Path, reporter: Reporter) -> int:
    """Relay rank 0's progress until the ranks exit; stop them all if the job is cancelled."""
    offset = 0
    try:
        while True:
            returncode = proc.poll()
            offset = _relay(progress, offset, reporter)
            if returncode is not None:
                return returncode
            reporter.check()
            time.sleep(POLL_S)
    except BaseException:  # Cancelled, or this process stopping: the ranks must not train on unowned
        _stop(proc)
        raise


def _relay(progress: Path, offset: int, reporter: Reporter) -> int:
    if not progress.is_file():
        return offset
    with open(progress) as lines:
        lines.seek(offset)
        for line in iter(lines.readline, ""):
            if not line.endswith("\n"):  # a line being written: read it whole next time
                break
            update = json.loads(line)
            reporter.update(update["stage"], update["done"], update["total"], update["message"])
            offset = lines.tell()
    return offset


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the ranks' process group (torchrun forwards it), SIGKILL if they linger."""
    for sig, wait in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _rank_error(job: Path, processes: int, returncode: int) -> Exception:
    """The error a rank reported (the same genleak error a single process would raise), else the log's tail."""
    for rank in range(processes):
        path = job / error_file(rank)
        if path.is_file():
            info = json.loads(path.read_text())
            kind = getattr(errors, info["type"], None)
            if isinstance(kind, type) and issubclass(kind, errors.GenleakError):
                if kind is InvalidSpec:
                    return InvalidSpec(info["message"], field=info.get("field"))
                return kind(info["message"])
    tail = (job / LOG_FILE).read_text(errors="replace")[-LOG_TAIL_CHARS:]
    return RuntimeError(f"data-parallel fine-tune failed (torchrun exit {returncode}); last output:\n{tail}")
