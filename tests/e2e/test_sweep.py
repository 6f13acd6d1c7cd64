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


def test_learning_rate_by_seed_sweep(tmp_path):
    spec = tmp_path / "sweep.yaml"
    spec.write_text(SPEC)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "services"), "GENLEAK_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "genleak", "run", str(spec), "--store", str(tmp_path / "store"),
                           "--out", str(tmp_path / "out"), "--no-progress"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    labels = ["lr=0.001 seed=1", "lr=0.001 seed=2", "lr=0.003 seed=1", "lr=0.003 seed=2"]
    assert [s["label"] for s in report["sweep"]] == labels
    assert {f"finetune[original|{label}]" for label in labels} <= set(report["stage_seconds"])
    tuned = [a for a in report["attacks"] if a["condition"] == "original"]
    assert sorted(a["setting_label"] for a in tuned) == labels
    assert report["best"]["fuzzy"]["D"]["original"]["setting"] in labels
    groups = {r["group"]: r for r in report["per_setting"]["fuzzy"] if r["condition"] == "original"}
    assert set(groups) == {"lora lr=0.001", "lora lr=0.003"} and all(r["seeds"] == 2 for r in groups.values())
    assert "per setting, last epoch: mean ± sd over seeds" in proc.stdout
