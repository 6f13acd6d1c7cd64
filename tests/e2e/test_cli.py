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
    header = "| template | base | original | generated | generated-scrubbed |"
    assert header in proc.stdout
    report = json.loads((out / "report.json").read_text())
    assert set(report["stage_seconds"]) >= {"lab", "generate", "generate[generated-scrubbed]", "finetune[original]",
                                            "finetune[generated]", "finetune[generated-scrubbed]", "leakage[base]"}
    assert "## Untargeted PII leakage (50 unconditioned samples" in proc.stdout
    assert "## Perplexity per checkpoint (" in proc.stdout
    # The positive control: 3 of the 12 queried people planted, reported apart, judged in one line.
    control = report["positive_control"]
    assert (control["n_planted"], control["n_rest"], control["copies"]) == (3, 9, 4)
    assert "**Positive control: " in proc.stdout and "## Positive control: 3 planted people" in proc.stdout
    assert report["training_data"]["planted"]["records"] == 40 + 3 * 4
    assert "leakage[planted]" not in report["stage_seconds"]  # the tiny lab's held-out texts (up to 200)
    # What ran where: every generate, fine-tune, attack and leakage stage recorded its device (a CPU here).
    assert set(report["compute"]) == set(report["stage_seconds"]) - {"lab"}
    assert report["provenance"]["compute"]["devices"][0].startswith("cpu (")
    assert report["provenance"]["compute"]["precisions"] == ["float32"]
    assert "## Where it ran" in (out / "report.md").read_text()
    assert all(1 < a["perplexity"]["heldout"] < 1e4 for a in report["attacks"])
    # Scrubbing replaced the names and e-mails of the prompts: no real e-mail reaches the scrubbed
    # training text, while the plain generated text carries them (its prompts are real mail).
    training = {scan["condition"]: scan["sources"]["texts"]["entities"] for scan in report["leakage"]
                if "texts" in scan["sources"]}
    assert training["generated"]["EMAIL_ADDRESS"]["planted"] > 0
    assert training["generated-scrubbed"]["EMAIL_ADDRESS"]["planted"] == 0
    scrub = report["generation"]["generated-scrubbed"]["stats"]["scrub"]
    assert scrub["replaced"]["EMAIL_ADDRESS"] > 0 and scrub["replaced"]["PERSON"] > 0
    html = (out / "report.html").read_text()
    assert html.lstrip().lower().startswith("<!doctype html>") and "data:image/png;base64," in html
    _assert_no_lab_pii_in_clear(tmp_path / "store", report, [(out / "report.md").read_text(),
                                                             (out / "report.json").read_text(), html,
                                                             proc.stdout, proc.stderr])
    # A second run is answered from the store's cache.
    again = _genleak("run", "examples/tiny.yaml", "--store", str(tmp_path / "store"), "--no-progress", tmp=tmp_path)
    assert again.returncode == 0 and header in again.stdout


def _assert_no_lab_pii_in_clear(store_root: Path, report: dict, outputs: list[str]) -> None:
    """Reports and logs never leak what they measure: no lab e-mail, phone or full name in clear text."""
    from genleak.core.settings import StoreSettings
    from genleak.core.store import ArtifactStore

    store = ArtifactStore(StoreSettings(root=f"file://{store_root}", cache_dir=store_root.parent / "fetch"))
    people = [json.loads(line) for line in (store.fetch(report["inputs"]["people"]) / "data.jsonl").read_text().splitlines()]
    values = [p[k] for p in people for k in ("email", "phone", "name")]
    assert len(values) >= 3 * 40
    leaked = [v for v in values if any(v in text for text in outputs)]
    assert leaked == []


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
