"""Caching: every stage's output is keyed by its config and inputs, so a rerun with one attack knob
changed reruns only the attacks (the lab, generation, fine-tunes and leakage scans come from the store)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _jobs(store: Path) -> dict[str, int]:
    root = store / "jobs"
    return {kind.name: len(list(kind.iterdir())) for kind in root.iterdir()} if root.is_dir() else {}


def _run(spec: Path, tmp: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "services"), "GENLEAK_CACHE_DIR": str(tmp / "cache")}
    proc = subprocess.run([sys.executable, "-m", "genleak", "run", str(spec), "--store", str(tmp / "store"),
                           "--no-progress"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_changing_an_attack_knob_reruns_only_the_attacks(tmp_path):
    text = (ROOT / "examples" / "tiny.yaml").read_text()
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text(text)
    assert "temperatures: [0.2, 1.0]" in text
    second.write_text(text.replace("temperatures: [0.2, 1.0]", "temperatures: [0.5]"))
    _run(first, tmp_path)
    before = _jobs(tmp_path / "store")
    _run(second, tmp_path)
    after = _jobs(tmp_path / "store")
    changed = {kind for kind in after if after[kind] != before.get(kind)}
    assert changed == {"extraction"}, (before, after)
    assert after["extraction"] == 2 * before["extraction"]  # every attacked checkpoint, once more
