"""Kill and resume: `genleak run` SIGKILLed mid-experiment (after some stages published their
outputs, with others in flight) and started again ends with the same report as a run that was
never interrupted. Finished stages are answered from the store; the interrupted ones rerun."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = "examples/tiny.yaml"


def _env(tmp: Path, name: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "services"), "GENLEAK_CACHE_DIR": str(tmp / f"cache-{name}"),
            "GENLEAK_STORE": f"file://{tmp}/store-{name}"}


def _run(tmp: Path, name: str, out: Path) -> dict:
    proc = subprocess.run([sys.executable, "-m", "genleak", "run", SPEC, "--out", str(out), "--no-progress"],
                          cwd=ROOT, env=_env(tmp, name), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "report.json").read_text())


def _genleak(tmp: Path, name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "genleak", *args], cwd=ROOT, env=_env(tmp, name),
                          capture_output=True, text=True, timeout=120)


def _published(store: Path, kind: str) -> int:
    return len(list((store / "jobs" / kind).glob("*/*/MANIFEST.json"))) if (store / "jobs" / kind).is_dir() else 0


def _results(report: dict) -> dict:
    """Everything a reader compares: counts per attack and checkpoint, leakage tables (no timings, URIs of runs)."""
    attacks = sorted((a["condition"], a["epoch"], json.dumps(a["counts"], sort_keys=True)) for a in report["attacks"])
    leakage = {s["condition"]: s["sources"] for s in report["leakage"]}
    return {"best": report["best"], "attacks": attacks, "leakage": leakage}


def test_sigkilled_run_resumes_to_the_same_report(tmp_path, robustness_tally):
    reference = _run(tmp_path, "reference", tmp_path / "out-reference")

    store = tmp_path / "store-resumed"
    proc = subprocess.Popen([sys.executable, "-m", "genleak", "run", SPEC, "--no-progress"], cwd=ROOT,
                            env=_env(tmp_path, "resumed"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 600
    # Kill once a fine-tune has published while attacks are still to come.
    while _published(store, "finetune") == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished_before = sum(_published(store, k) for k in ("generation", "finetune", "extraction"))
    assert not list(store.glob("runs/*/*/*/report/MANIFEST.json")), "no report may exist for a killed run"

    killed = _genleak(tmp_path, "resumed", "status", "tiny")
    # Its process is gone: interrupted, not running forever.
    assert killed.returncode == 0 and ": interrupted" in killed.stdout and "stages" in killed.stdout, killed.stdout

    resumed = _run(tmp_path, "resumed", tmp_path / "out-resumed")
    assert _results(resumed) == _results(reference)
    history = _genleak(tmp_path, "resumed", "status", "tiny", "--all").stdout
    assert history.count(": succeeded") == 1 and history.count(": interrupted") == 1, history
    rendered = _genleak(tmp_path, "resumed", "report", "tiny", "--out", str(tmp_path / "rerendered"))
    assert rendered.returncode == 0 and "| template | base |" in rendered.stdout
    assert (tmp_path / "rerendered" / "report.html").read_text().startswith("<!DOCTYPE html>")
    robustness_tally.count("faults: controller SIGKILLed mid-run", "resumed, same report")
    robustness_tally.figure("fault: killed genleak run", f"SIGKILL after {finished_before} stage outputs were "
                                                         "published; the rerun's report equals an uninterrupted run's")
