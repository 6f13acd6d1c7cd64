"""`genleak validate` / `genleak run --dry-run` print the plan with the stages cached in the store, `genleak
--version`, and the stage progress bar without an extrapolated time left (issue 16, item 5)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from genleak.cli import main
from genleak.cli.run import _ProgressBar
from genleak.controller.journal import Execution, RunJournal
from genleak.controller.runner import _count_stages, experiment_plan, plan_stages
from genleak.controller.spec import load_spec_text
from genleak.core.settings import StoreSettings
from genleak.core.store import ArtifactStore
from genleak.v1 import common_pb2

ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("cli_leaves_no_trace")


@pytest.fixture
def genleak(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENLEAK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(ROOT)
    store = ArtifactStore(StoreSettings(root=f"file://{tmp_path}/store", cache_dir=tmp_path / "cache"))

    def run(*args: str) -> tuple[int, str]:
        code = main([*args, "--store", store.root])
        return code, capsys.readouterr().out

    run.store = store
    return run


def _stage_rows(out: str) -> list[tuple[str, str]]:
    """(stage, cached | to run) per numbered plan line."""
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    return [(row[1], " ".join(row[2:])) for row in rows]


def test_validate_lists_the_demos_stages_in_order(genleak):
    code, out = genleak("validate", "examples/demo.yaml")
    rows = _stage_rows(out)
    assert code == 0 and out.startswith("examples/demo.yaml: valid (run demo, scenario extraction, target lab:target)")
    names = [name for name, _ in rows]
    assert names[:6] == ["lab", "generate", "generate[generated-scrubbed]", "attack[base]", "leakage[base]",
                         "finetune[original]"]
    assert names[6:11] == [f"attack[original@epoch{e}]" for e in range(1, 5)] + ["leakage[original]"]
    assert names[-1] == "attack[planted@epoch4]" and "leakage[planted]" not in names  # the control is not scanned
    assert len(names) == 28 and {state for _, state in rows} == {"to run"}
    assert "plan: 28 stages, 0 cached in " in out
    assert genleak("run", "--dry-run", "examples/demo.yaml") == (code, out)  # the same, and nothing started
    assert not (Path(genleak.store.root[len("file://"):]) / "runs").exists()


def test_the_progress_total_is_the_plan_without_the_lab():
    for example in ("demo", "tiny", "membership", "membership_tiny"):
        spec = load_spec_text((ROOT / "examples" / f"{example}.yaml").read_text())
        assert _count_stages(spec) == len(plan_stages(spec)) - spec.uses_lab(), example


def test_stages_an_earlier_execution_of_the_same_spec_finished_are_cached(genleak):
    spec = load_spec_text((ROOT / "examples" / "tiny.yaml").read_text())
    journal = RunJournal(genleak.store, Execution("tiny", "h", "20260101T000000Z-000001"),
                         spec_sha256=spec.spec_hash(), plan=experiment_plan(spec))
    for stage in ("lab", "generate", "finetune[original]"):
        journal.stage_done(stage)
    journal.finish("failed")
    RunJournal(genleak.store, Execution("other", "h", "20260101T000000Z-000002"),  # another spec: not ours
               spec_sha256="0" * 64).finish("succeeded")
    code, out = genleak("validate", "examples/tiny.yaml", "--json")
    plan = json.loads(out)
    assert code == 0 and plan["valid"] and plan["cached"] == 3 and plan["spec_sha256"] == spec.spec_hash()
    assert [s["name"] for s in plan["stages"] if s["cached"]] == ["lab", "generate", "finetune[original]"]
    assert len(plan["stages"]) == 16
    # Once an execution of this spec succeeded, every stage is answered from the store.
    RunJournal(genleak.store, Execution("renamed", "h2", "20260102T000000Z-000003"),
               spec_sha256=spec.spec_hash()).finish("succeeded")
    code, out = genleak("validate", "examples/tiny.yaml")
    assert code == 0 and {state for _, state in _stage_rows(out)} == {"cached"} and "16 stages, 16 cached" in out


def test_an_invalid_spec_is_json_too(genleak, tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: x\nlab: {preset: huge}\n")
    code, out = genleak("validate", str(spec), "--json")
    assert code == 2 and json.loads(out) == {"spec": str(spec), "valid": False, "key": "lab.preset",
                                             "error": "lab.preset: unknown lab preset 'huge'; valid: default, tiny"}


def test_several_targets_plan_each_targets_stages_and_the_lab_once():
    spec = load_spec_text("lab: {preset: tiny}\ntargets: [lab:target, lab:generator]\nconditions: [base, original]\n"
                          "finetune: {epochs: 1}\nleakage: null\n")
    assert experiment_plan(spec) == ["lab", "lab:target: attack[base]", "lab:target: finetune[original]",
                                     "lab:target: attack[original@epoch1]", "lab:generator: attack[base]",
                                     "lab:generator: finetune[original]", "lab:generator: attack[original@epoch1]"]


def test_version(capsys):
    import genleak

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"genleak {genleak.__version__}"


def test_the_progress_bar_counts_stages_and_does_not_guess_the_time_left():
    out = io.StringIO()
    with _ProgressBar(enabled=True, file=out) as bar:
        for stage, done, total, message in (("lab", 3, 10, "pretraining"), ("experiment", 1, 14, "generate: done"),
                                            ("experiment", 6, 14, "finetune[original]: done")):
            bar.update(common_pb2.Job(progress=common_pb2.Progress(stage=stage, done=done, total=total,
                                                                   message=message)))
    text = out.getvalue()
    assert "3/10 lab steps" in text and "6/14 stages" in text and "finetune[original]: done" in text
    assert "<" not in text and "/s" not in text and "?" not in text  # tqdm's "elapsed<remaining, rate" is gone
