"""Shared helpers for the bench scripts: a lab-shaped world, timing, the table and the JSON.

Every script measures genleak and its baseline in the SAME run on the same inputs and reports the
ratio: the machine is shared and noisy, so absolute seconds mean little and nothing here asserts
on time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
if os.environ.get("GENLEAK_BENCH_RESULTS"):  # bench/gpu.sh writes into the device call's $OUT
    RESULTS = Path(os.environ["GENLEAK_BENCH_RESULTS"])
sys.path.insert(0, str(ROOT / "services"))

# Same as tests/conftest.py: idle OpenMP workers must sleep, not spin, on 2 shared cores;
# vLLM on CPU aborts without a KV-cache size and leaves a core idle with its default binding.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "0-1")
os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def parse_args(doc: str | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--quick", action="store_true", help="smaller inputs: a smoke run, ratios are rougher")
    return parser.parse_args()


@contextmanager
def timed(out: dict[str, float], key: str) -> Iterator[None]:
    """Wall seconds of the block into out[key] (added, so a key can time several blocks)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        out[key] = out.get(key, 0.0) + time.perf_counter() - started


def best_of(fn, repeats: int) -> tuple[float, Any]:
    """Fastest of `repeats` runs of fn(): on a shared machine the minimum is the least disturbed."""
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import torch

        torch_version = torch.__version__
        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:  # pragma: no cover
        torch_version = gpu = None
    return {
        "gpu": gpu,
        "cpus": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "python": platform.python_version(),
        "torch": torch_version,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "load_avg_1m": os.getloadavg()[0],
    }


def print_table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    cells = [[_fmt(c) for c in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n## {title}")
    for n, row in enumerate(cells):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def write_json(name: str, payload: dict[str, Any], quick: bool) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}{'.quick' if quick else ''}.json"
    path.write_text(json.dumps({"bench": name, "quick": quick, "machine": machine(), **payload}, indent=1))
    print(f"\nwrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return path


def verdict(ratio: float, target: float) -> str:
    return "meets target" if ratio >= target else "BELOW target"


# --- a lab-shaped world without the 4-minute pretraining ------------------------------------


def lab_world(out_dir: Path, preset: str = "default", seed: int = 0, roles: tuple[str, ...] = ("target",)) -> dict:
    """The lab's data (people, mail, splits) and its tokenizer + model SHAPES, randomly initialised.

    Pretraining changes the weights, not the compute: every throughput here depends only on
    the shapes, the tokenizer and the texts, so the bench skips the lab build's pretraining.
    Returns {"datasets": dir, "splits": LabSplits, "target": model dir, "generator": model dir}.
    """
    from genleak.lab.build import make_lab_datasets
    from genleak.lab.config import LabConfig
    from genleak.lab.models import new_generator, new_target, save_model_folder
    from genleak.lab.tokenizer import train_tokenizer

    config = LabConfig.preset(preset, {"seed": seed})
    out_dir = Path(out_dir)
    splits = make_lab_datasets(config, out_dir / "datasets")
    tokenizer = train_tokenizer([d.text for d in splits.members], config.vocab_size, config.pretrain.max_length)
    world: dict[str, Any] = {"datasets": out_dir / "datasets", "splits": splits, "config": config}
    builders = {"target": (new_target, config.target), "generator": (new_generator, config.generator)}
    for role in roles:
        build, shape = builders[role]
        save_model_folder(build(shape, tokenizer, config.pretrain.seed), tokenizer, out_dir / role)
        world[role] = out_dir / role
    return world
