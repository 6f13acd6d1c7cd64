"""bench/gpu.sh's helpers: the compute check fails a run that fell back to the CPU, and the carried wheels
are pinned as the lock pins them (what the GPU machine installs is what CI tested)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def check(report: Path, expect: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_check.py"), str(report), "--expect", expect],
                          capture_output=True, text=True)


@pytest.fixture()
def report(tmp_path) -> Path:
    compute = {"generate": {"device_type": "cuda", "device_name": "NVIDIA H100", "precision": "float32",
                            "peak_memory_bytes": 2**30, "tokens_per_second": 900.0},
               "finetune[generated]": {"device_type": "cuda", "precision": "fp16 mixed precision over float32 "
                                                                           "weights", "processes": 2}}
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"compute": compute}))
    return path


def test_a_run_on_the_expected_device_passes_and_a_fallback_fails(report):
    ok = check(report, "cuda")
    assert ok.returncode == 0 and "all 2 stages computed on cuda" in ok.stdout
    fell_back = check(report, "cpu")
    assert fell_back.returncode == 1 and "NOT on cpu: finetune[generated], generate" in fell_back.stdout


def test_the_committed_fallback_run_passed_its_check():
    result = check(ROOT / "bench" / "results" / "gpu-cpu-fallback" / "smoke_report.json", "cpu")
    assert result.returncode == 0, result.stdout


def test_carried_wheels_are_pinned_as_the_lock_pins_them():
    lock = {}
    for line in (ROOT / "requirements" / "cpu.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split(";")[0].strip().split("==")
            lock[re.sub(r"[-_.]+", "-", name).lower()] = version.split()[0]
    pinned = [line.split()[1] for line in (ROOT / "bench" / "gpu_requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert pinned
    for wheel in pinned:
        name, version = wheel.split("==")
        assert lock[re.sub(r"[-_.]+", "-", name).lower()] == version, wheel
