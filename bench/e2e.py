"""End to end: one `genleak run` of a spec, wall time per stage, and the share of the run's wall
time spent outside model compute (orchestration, gRPC, storage, loading). Target < 5 %.

The run is the real CLI (`genleak run SPEC`, embedded stack: four gRPC servers in this process,
a fresh file store, nothing cached) called in-process, so the bench can time, on every thread,
the calls that do model work, by wrapping them (class methods; no service code changes):
- compute: lab build (pretraining + probe), engine `generate` (hf, vllm), the fine-tune loop's
  epochs, MIA scoring, Presidio PII detection;
- load/save: model and engine loading, Presidio analyzer start, checkpoint writing (merge+save);
- store: artifact publish / fetch / lookup / small reads.
Stages run concurrently, so the wall clock is split by a sweep over time: each instant counts
as compute if any compute call is running, else load/save, else store, else "other" (gRPC,
job scheduling, controller waits, tokenising, reports). Outside share = 1 - compute / wall.
Default spec: examples/tiny.yaml (seconds-scale lab; the demo spec builds a 4-minute lab and
runs ~7 minutes: `python bench/e2e.py --spec examples/demo.yaml`).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import inspect
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import common

INTERVALS: list[tuple[float, float, str, str]] = []  # (start, end, category, what)
_LOCK = threading.Lock()
PRIORITY = ("compute", "load/save", "store")


def _wrap(owner, name: str, category: str, label: str | None = None) -> None:
    raw = inspect.getattr_static(owner, name)
    # class/static methods: call the bound original and install a staticmethod; plain methods:
    # install a function that receives self like the original
    target = getattr(owner, name) if isinstance(raw, (classmethod, staticmethod)) else raw

    @functools.wraps(target)
    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return target(*args, **kwargs)
        finally:
            with _LOCK:
                INTERVALS.append((started, time.perf_counter(), category, label or name))

    setattr(owner, name, staticmethod(timed) if isinstance(raw, (classmethod, staticmethod)) else timed)


def instrument() -> None:
    """Wrap the calls that do model work, load models, or touch the store."""
    import transformers

    from genleak.attacker.mia import scorers
    from genleak.core.store import ArtifactStore
    from genleak.engines.hf import HFEngine
    from genleak.finetuner import checkpoint
    from genleak.finetuner.loop import TrainLoop
    from genleak.lab import build

    _wrap(build, "build_lab", "compute", "lab build")
    _wrap(HFEngine, "generate", "compute", "hf generate")
    _wrap(TrainLoop, "run_epoch", "compute", "train epoch")
    with scorers._LOCK:  # the scorer registry holds function objects: wrap its entries
        for name, fn in list(scorers._SCORERS.items()):
            holder = type("Holder", (), {"fn": staticmethod(fn)})
            _wrap(holder, "fn", "compute", f"mia score ({name})")
            scorers._SCORERS[name] = holder.fn
    _wrap(HFEngine, "__init__", "load/save", "hf engine load")
    _wrap(checkpoint.CheckpointWriter, "write", "load/save", "checkpoint write")
    _wrap(transformers.AutoModelForCausalLM, "from_pretrained", "load/save", "model load")
    for method in ("publish", "fetch", "lookup", "read_bytes", "manifest"):
        _wrap(ArtifactStore, method, "store", f"store {method}")
    try:
        from genleak.engines.vllm_engine import VLLMEngine

        _wrap(VLLMEngine, "generate", "compute", "vllm generate")
        _wrap(VLLMEngine, "__init__", "load/save", "vllm engine start")
    except ImportError:  # pragma: no cover
        pass
    try:
        from genleak.presidio.analyzer import PIIAnalyzer

        _wrap(PIIAnalyzer, "detect", "compute", "presidio detect")
        _wrap(PIIAnalyzer, "__init__", "load/save", "presidio analyzer load")
    except ImportError:  # pragma: no cover - module not present in every checkout
        pass


def split_wall(start: float, end: float) -> dict[str, float]:
    """Seconds of [start, end] by the highest-priority category running at each instant."""
    events = []
    for s, e, cat, _ in INTERVALS:
        s, e = max(s, start), min(e, end)
        if e > s:
            events += [(s, 1, cat), (e, -1, cat)]
    events.sort()
    active = {c: 0 for c in PRIORITY}
    out = {c: 0.0 for c in (*PRIORITY, "other")}
    t = start
    for when, delta, cat in events:
        top = next((c for c in PRIORITY if active[c] > 0), "other")
        out[top] += when - t
        t = when
        active[cat] += delta
    out["other"] += end - t
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="same as the default (the tiny spec)")
    parser.add_argument("--spec", default="examples/tiny.yaml")
    args = parser.parse_args()
    (common.BENCH / "out").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-e2e-", dir=common.BENCH / "out") as tmp_s:
        tmp = Path(tmp_s)
        os.environ["GENLEAK_CACHE_DIR"] = str(tmp / "cache")  # read by Settings.from_env in the CLI
        from genleak.cli import main as genleak_main

        instrument()
        cwd = os.getcwd()
        os.chdir(common.ROOT)  # spec paths are relative to the repo, as in the README
        started = time.perf_counter()
        try:
            with open(tmp / "genleak-run.log", "w") as log, contextlib.redirect_stdout(log):  # the report itself
                code = genleak_main(["run", args.spec, "--store", str(tmp / "store"), "--out", str(tmp / "out"),
                                     "--no-progress"])
        finally:
            os.chdir(cwd)
        ended = time.perf_counter()
        if code != 0:
            raise SystemExit(f"genleak run failed with exit code {code}")
        report = json.loads((tmp / "out" / "report.json").read_text())

    wall = ended - started
    split = split_wall(started, ended)
    by_call: dict[str, list[float]] = {}
    for s, e, cat, what in INTERVALS:
        by_call.setdefault(f"{cat}: {what}", []).append(e - s)
    stages = report["stage_seconds"]
    common.print_table(f"End to end: genleak run {args.spec} (stages overlap: they run as a DAG)",
                       ["stage", "wall s"], [[k, float(v)] for k, v in sorted(stages.items())])
    common.print_table("Wall time of the whole run, split by what was running",
                       ["category", "seconds", "share"],
                       [[k, v, f"{v / wall:.1%}"] for k, v in split.items()] + [["total", wall, "100%"]])
    common.print_table("Timed calls (summed over threads; they overlap)", ["call", "calls", "seconds"],
                       [[k, len(v), sum(v)] for k, v in sorted(by_call.items(), key=lambda kv: -sum(kv[1]))])
    outside = 1 - split["compute"] / wall
    print(f"\nshare of wall time outside model compute: {outside:.1%} (target < 5%: "
          f"{'meets target' if outside < 0.05 else 'ABOVE target'}); orchestration/gRPC/other "
          f"{split['other'] / wall:.1%}, storage {split['store'] / wall:.1%}, loading/saving "
          f"{split['load/save'] / wall:.1%}")
    name = "e2e" if args.spec == "examples/tiny.yaml" else f"e2e_{Path(args.spec).stem}"
    common.write_json(name, {
        "spec": args.spec, "wall_s": wall, "stage_seconds": stages, "split_s": split,
        "outside_compute_share": outside, "target": "< 5% outside model compute",
        "calls": {k: {"n": len(v), "seconds": sum(v)} for k, v in by_call.items()},
    }, args.quick)


if __name__ == "__main__":
    main()
