"""Black-box: the `genleak` CLI as a user runs it (subprocess), embedded default with a file store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _genleak(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "services"), "GENLEAK_CACHE_DIR": str(tmp / "cache")}
    return subprocess.run([sys.executable, "-m", "genleak", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)


def test_run_tiny_spec_prints_report_and_writes_files(tmp_path):
    out = tmp_path / "out"
    proc = _genleak("run", "examples/tiny.yaml", "--store", str(tmp_path / "store"), "--out", str(out), "--no-progress",
                    tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| template | base | original | generated |" in proc.stdout
    report = json.loads((out / "report.json").read_text())
    assert set(report["stage_seconds"]) >= {"lab", "generate", "finetune[original]", "finetune[generated]"}
    # A second run is answered from the store's cache.
    again = _genleak("run", "examples/tiny.yaml", "--store", str(tmp_path / "store"), "--no-progress", tmp=tmp_path)
    assert again.returncode == 0 and "| template | base | original | generated |" in again.stdout


def test_bad_spec_is_one_clear_line_not_a_traceback(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: bad\nattack: {temperatures: [0.2, -1]}\n")
    proc = _genleak("run", str(spec), "--store", str(tmp_path / "store"), tmp=tmp_path)
    assert proc.returncode == 2
    assert "attack.temperatures" in proc.stderr and "Traceback" not in proc.stderr


def test_lab_build_tiny_prints_memorisation(tmp_path):
    proc = _genleak("lab", "build", "--preset", "tiny", "--store", str(tmp_path / "store"), tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "memorization" in proc.stdout and "lab:target" in proc.stdout
