"""Two generators in one spec, end to end on the tiny lab (examples/generators_tiny.yaml): one run, each
generator's data generated, tuned on and attacked on its own, base and original once, one report with a
section per generator and the tables comparing them (report.md, report.html, report.json)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from genleak.zoo import get_zoo_entry

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["lab-generator", "lab-target"]


def _run(spec: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict, Path]:
    # PYTHONPATH kept after services/: an optional zoo package installed there is found in the subprocess too
    path = os.pathsep.join(p for p in (str(ROOT / "services"), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "GENLEAK_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "genleak", "run", str(spec), "--store", str(tmp_path / "store"),
                           "--out", str(out), "--no-progress"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, json.loads((out / "report.json").read_text()), out


def test_two_generators_one_run_one_report_with_a_section_each(tmp_path):
    proc, report, out = _run(ROOT / "examples" / "generators_tiny.yaml", tmp_path)
    assert [s["name"] for s in report["generators"]] == NAMES
    stages = set(report["stage_seconds"])
    for name in NAMES:  # each generator's conditions ran on their own ...
        assert {f"generate[generated:{name}]", f"finetune[generated:{name}]", f"attack[generated:{name}@epoch1]",
                f"leakage[generated:{name}]"} <= stages
    # ... and base/original once
    assert {"attack[base]", "finetune[original]", "attack[original@epoch1]", "leakage[base]"} <= stages
    assert not any(s.startswith(("generate[", "finetune[generated")) and ":" not in s for s in stages)
    first, second = (s["report"] for s in report["generators"])
    assert first["conditions"] == second["conditions"] == ["base", "original", "generated"]
    assert first["best"]["fuzzy"]["A"]["original"] == second["best"]["fuzzy"]["A"]["original"]  # shared
    assert first["inputs"]["generator"] != second["inputs"]["generator"]  # the lab's generator, then its target
    assert first["training_data"]["generated"]["dataset"] != second["training_data"]["generated"]["dataset"]
    assert set(report["best"]) == set(NAMES)  # the job's summary, by generator

    md = (out / "report.md").read_text()
    assert "## Generator 2: lab-target" in proc.stdout  # `genleak run` prints report.md
    assert md.startswith("# genleak report: generators-tiny (2 generators)")
    assert "## Fuzzy successes per generator: maximum over temperature x epoch" in md
    assert "## Untargeted PII leakage per generator (20 unconditioned samples" in md
    for index, name in enumerate(NAMES, start=1):
        title = f"## Generator {index}: {name} (lab:{name[4:]})"
        assert md.count(title) == 1
        assert f"| {name} | generated |" in md  # its row in the comparison
    assert md.index("per generator") < md.index("## Generator 1:") < md.index("## Generator 2:")
    html = (out / "report.html").read_text()
    assert html.count('<section class="generator">') == 2 and "Generators compared" in html


@pytest.mark.skipif(get_zoo_entry("gemma-3-270m").locate() is None,
                    reason="zoo:gemma-3-270m is optional: " + get_zoo_entry("gemma-3-270m").pip_command)
def test_the_lab_generator_against_gemma_3_270m(tmp_path):
    """A real generator from the zoo beside the lab's: Gemma 3 270M (converted in the run, once per store)
    writes the same prompts' continuations; the report compares the two."""
    text = (ROOT / "examples" / "generators_tiny.yaml").read_text().replace(
        '{name: lab-target, model: "lab:target"', '{name: gemma, model: "zoo:gemma-3-270m"')
    assert "zoo:gemma-3-270m" in text
    spec = tmp_path / "spec.yaml"
    spec.write_text(text.replace("leakage: {n_samples: 20, max_new_tokens: 48}", "leakage: null"))
    proc, report, _ = _run(spec, tmp_path)
    assert [(s["name"], s["model"]) for s in report["generators"]] == [("lab-generator", "lab:generator"),
                                                                      ("gemma", "zoo:gemma-3-270m")]
    gemma = report["generators"][1]["report"]
    assert gemma["inputs"]["generator"].startswith("zoo:gemma-3-270m")
    assert gemma["generation"]["generated"]["stats"]["n_out"] == 40
    assert "## Generator 2: gemma (zoo:gemma-3-270m)" in proc.stdout and "| gemma | generated |" in proc.stdout
