"""Bad input is one clear line at the edge, before anything runs (issue 16, item 6): a missing spec file,
a dataset file or model folder the spec names that is not there, an unknown lab preset, and a relative
dataset path sent to a controller directly. Each names the key (or the path) and what to do, exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from genleak.cli import main
from genleak.controller.references import named_references
from genleak.controller.service import ControllerCore
from genleak.controller.spec import LAB_PRESETS, load_spec_text
from genleak.core.errors import InvalidSpec

ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("cli_leaves_no_trace")


@pytest.fixture
def genleak(tmp_path, monkeypatch, capsys):
    """`genleak ARGS` in this process against a fresh store; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("GENLEAK_CACHE_DIR", str(tmp_path / "cache"))
    store = tmp_path / "store"

    def run(*args: str) -> tuple[int, str, str]:
        code = main([*args, "--store", str(store)])
        out, err = capsys.readouterr()
        return code, out, err

    run.store = store
    return run


def _one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def _nothing_started(store: Path) -> bool:
    return not (store / "runs").exists() and not (store / "jobs").exists()


def test_a_missing_spec_file_names_the_path(genleak):
    code, _, err = genleak("run", "nope.yaml")
    assert code == 2
    line = _one_line_error(err)
    assert "nope.yaml" in line and "examples/tiny.yaml" in line  # the path, and what a spec path looks like
    assert genleak("validate", "examples")[0] == 2  # a folder is not a spec either


def test_the_paper_spec_without_its_enron_file_is_refused_before_anything_starts(genleak, monkeypatch):
    monkeypatch.chdir(ROOT)  # as the paper example is run: from the repository, data/enron.jsonl not downloaded
    assert not (ROOT / "data" / "enron.jsonl").exists() and not (ROOT / "examples" / "data").exists()
    code, _, err = genleak("run", "examples/paper_scenario_a.yaml")
    line = _one_line_error(err)
    assert code == 2 and line.startswith("error: data.prompts: data/enron.jsonl not found")
    assert str(ROOT / "examples" / "data" / "enron.jsonl") in line and "genleak data import" in line
    assert _nothing_started(genleak.store)


def test_a_missing_target_or_generator_model_folder_names_its_key(genleak, tmp_path):
    for key, yaml_line in (("target", "target: /nonexistent/model"),
                           ("generator.model", "generator: {model: models/no-such-generator}"),
                           ("targets[1]", f"targets: [lab:target, {tmp_path}/gone]")):
        spec = tmp_path / "spec.yaml"
        spec.write_text(f"name: missing-model\nlab: {{preset: tiny}}\n{yaml_line}\n")
        code, _, err = genleak("run", str(spec))
        line = _one_line_error(err)
        assert code == 2 and line.startswith(f"error: {key}: no model folder at "), line
        assert "hf://org/name" in line and "zoo:<name>" in line  # what to put there instead
    assert _nothing_started(genleak.store)


def test_a_folder_that_is_not_a_model_or_a_file_that_is_not_a_dataset_says_so(genleak, tmp_path):
    (tmp_path / "empty-model").mkdir()
    (tmp_path / "notes.txt").write_text("not records")
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"name: wrong-kind\nlab: {{preset: tiny}}\ntarget: {tmp_path}/empty-model\n")
    assert "is not a model folder (no config.json)" in _one_line_error(genleak("validate", str(spec))[2])
    spec.write_text("name: wrong-kind\nlab: {preset: tiny}\ndata: {prompts: notes.txt}\n")
    code, _, err = genleak("validate", str(spec))
    assert code == 2 and "data.prompts:" in err and "is not a dataset genleak reads" in err


def test_an_existing_model_folder_and_a_dataset_beside_the_spec_pass(genleak, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (tmp_path / "prompts.jsonl").write_text('{"prompt": "a", "continuation": "b"}\n')
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"name: fine\nlab: {{preset: tiny}}\ntarget: {model}\ndata: {{prompts: prompts.jsonl}}\n")
    code, out, err = genleak("validate", str(spec))
    assert code == 0 and "valid" in out, err


def test_an_unknown_lab_preset_fails_validation_naming_the_key_and_the_presets(genleak, tmp_path):
    with pytest.raises(InvalidSpec) as err:
        load_spec_text("name: x\nlab: {preset: huge}\n")
    assert err.value.field == "lab.preset" and "'huge'" in err.value.message and "default, tiny" in err.value.message
    spec = tmp_path / "huge.yaml"
    spec.write_text("name: x\nlab: {preset: huge}\n")
    code, _, stderr = genleak("run", str(spec))
    assert code == 2 and _one_line_error(stderr) == "error: lab.preset: unknown lab preset 'huge'; valid: default, tiny"
    assert _nothing_started(genleak.store)


def test_the_controllers_presets_are_the_labs():
    from genleak.lab.config import PRESETS

    assert sorted(LAB_PRESETS) == sorted(PRESETS)


def test_a_controller_refuses_a_relative_dataset_path_it_could_never_read():
    with pytest.raises(InvalidSpec) as err:
        ControllerCore.parse_request("name: x\nlab: {preset: tiny}\ndata: {prompts: data/enron.jsonl}\n")
    assert err.value.field == "data.prompts" and "genleak data import" in err.value.message
    # URIs, lab names, built-in sets and absolute paths are the services' to resolve.
    ControllerCore.parse_request("name: x\nlab: {preset: tiny}\ndata: {prompts: 'file:///abs/prompts', few_shot: paper}\n")


def test_every_key_that_names_a_model_or_dataset_is_checked():
    spec = load_spec_text("scenario: membership\nlab: {preset: tiny}\nmia: {reference_model: ref/model, "
                          "attacks: {ne: {mask_model: lab:mask_model}}}\ndata: {few_shot: paper}\n")
    refs = {r.key: r for r in named_references(spec)}
    assert refs["target"].kind == refs["generator.model"].kind == refs["mia.reference_model"].kind == "model"
    assert refs["mia.attacks.ne.mask_model"].kind == "model" and refs["data.people"].kind == "dataset"
    assert [k for k, r in refs.items() if r.is_path] == ["mia.reference_model"]  # paper is a built-in set
