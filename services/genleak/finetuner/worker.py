"""One rank of a data-parallel fine-tune: `python -m genleak.finetuner.worker JOB` under torchrun.

Reads the job that `genleak.finetuner.distributed` wrote, runs `finetune` (accelerate joins the
process group from torchrun's environment), and on rank 0 writes progress lines and the result.
A genleak error is written for the launcher, so it raises what a single process would have.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from genleak.core.errors import GenleakError, InvalidSpec
from genleak.core.progress import Reporter
from genleak.finetuner.distributed import JOB_FILE, PROGRESS_FILE, RECORDS_FILE, RESULT_FILE, error_file


def main(job: Path) -> int:
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(level=logging.INFO, format=f"rank {rank}: %(levelname)s %(name)s: %(message)s")
    try:
        result = _run(job, rank)
    except GenleakError as err:
        _write_error(job, rank, err)
        return 1
    if rank == 0:
        _write_atomic(job / RESULT_FILE, json.dumps(result.to_json()))
    return 0


def _run(job: Path, rank: int):
    from genleak.finetuner.train import finetune

    payload = json.loads((job / JOB_FILE).read_text())
    with open(job / RECORDS_FILE) as lines:
        records = [json.loads(line) for line in lines]
    reporter = _progress_reporter(job / PROGRESS_FILE) if rank == 0 else Reporter()
    return finetune(Path(payload["model_dir"]), records, payload["spec"], Path(payload["out_dir"]), reporter)


def _progress_reporter(path: Path) -> Reporter:
    out = open(path, "a", buffering=1)  # line-buffered: the launcher reads whole lines as they come

    def write(stage: str, done: int, total: int, message: str) -> None:
        out.write(json.dumps({"stage": stage, "done": done, "total": total, "message": message}) + "\n")

    return Reporter(write)


def _write_error(job: Path, rank: int, err: GenleakError) -> None:
    field = err.field if isinstance(err, InvalidSpec) else None
    message = err.message.removeprefix(f"{field}: ") if field else err.message
    _write_atomic(job / error_file(rank), json.dumps({"type": type(err).__name__, "message": message,
                                                      "field": field}))


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
