"""A fine-tuning sweep end to end: learning rate x seed lists in the spec become one fine-tune and
one attack per setting; the report takes the best over them and the mean/spread over seeds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = """
name: sweep
lab: {preset: tiny, seed: 0}
finetune:
  method: lora
  method_config: {r: 8, lora_alpha: 16, lora_dropout: 0.05}
  epochs: 1
  learning_rate: [1.0e-3, 3.0e-3]
  seed: [1, 2]
  batch_size: 8
attack: {templates: [D], temperatures: [0.2, 1.0], n_targets: 12, checkpoints: last}
leakage: null
conditions: [base, original]
"""


def _run(spec_text: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict]:
    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_text)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "services"), "GENLEAK_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "genleak", "run", str(spec), "--store", str(tmp_path / "store"),
                           "--out", str(tmp_path / "out"), "--no-progress"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    return proc, report


def test_learning_rate_by_seed_sweep(tmp_path):
    proc, report = _run(SPEC, tmp_path)
    labels = ["lr=0.001 seed=1", "lr=0.001 seed=2", "lr=0.003 seed=1", "lr=0.003 seed=2"]
    assert [s["label"] for s in report["sweep"]] == labels
    assert {f"finetune[original|{label}]" for label in labels} <= set(report["stage_seconds"])
    tuned = [a for a in report["attacks"] if a["condition"] == "original"]
    assert sorted(a["setting_label"] for a in tuned) == labels
    assert report["best"]["fuzzy"]["D"]["original"]["setting"] in labels
    groups = {r["group"]: r for r in report["per_setting"]["fuzzy"] if r["condition"] == "original"}
    assert set(groups) == {"lora lr=0.001", "lora lr=0.003"} and all(r["seeds"] == 2 for r in groups.values())
    assert "per setting, last epoch: mean ± sd over seeds" in proc.stdout


def test_two_targets_run_the_experiment_once_each_in_one_report(tmp_path):
    text = SPEC.replace("name: sweep", "name: two-targets").replace("learning_rate: [1.0e-3, 3.0e-3]",
                                                                      "learning_rate: 1.0e-3").replace("seed: [1, 2]",
                                                                                                      "seed: 1")
    proc, report = _run(text + "targets: [lab:target, lab:generator]\n", tmp_path)
    assert [entry["report"]["conditions"] for entry in report["targets"]] == [["base", "original"]] * 2
    first, second = (entry["report"]["inputs"]["target"] for entry in report["targets"])
    assert first != second  # the lab's target, then its generator model, each tuned and attacked
    assert "## Target 1: " in proc.stdout and "## Target 2: " in proc.stdout
    assert (tmp_path / "out" / "report.html").read_text().count("<h1>Target ") == 2
