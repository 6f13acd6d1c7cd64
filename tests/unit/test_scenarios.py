"""Scenarios are plugins (genleak.controller.scenarios): a third one, registered for the length of a test,
is accepted by the spec, attacked by the runner, and reported by the controller and genleak.report,
with no branch on its name anywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from genleak.controller import stages
from genleak.controller.clients import ServiceClients
from genleak.controller.runner import ExperimentRunner
from genleak.controller.scenarios import (LabRefs, Runner, get_scenario, register_scenario, scenario_names,
                                          unregister_scenario)
from genleak.controller.scenarios.base import checkpoint_epochs
from genleak.controller.spec import ExperimentSpec, load_spec_text
from genleak.core.errors import InvalidSpec
from genleak.core.progress import NULL_REPORTER
from genleak.report.files import render_report_files
from genleak.report.scenarios import REPORTS, ScenarioReport
from genleak.v1 import common_pb2

NO_SERVICES = ServiceClients(generator=None, finetuner=None, attacker="the attacker", channels=())
TOY_SPEC = "name: toy-run\nscenario: toy\nlab: null\ntarget: /models/target\ndata: {prompts: file:///prompts}\n"


def _toy_report(spec: Any, run_name: str, outcome: dict[str, Any], provenance: dict[str, Any]) -> dict[str, Any]:
    return {"run": run_name, "scenario": spec.scenario, "inputs": outcome["inputs"], "provenance": provenance,
            "stage_seconds": outcome["stage_seconds"], "attacks": outcome["attacks"],
            "lengths": {f"{a['condition']}@{a['epoch']}": a["length"] for a in outcome["attacks"]}}


TOY_REPORT = ScenarioReport(
    build=_toy_report,
    markdown=lambda report, roc_file: f"# toy report: {report['run']}\n\nlengths: {report['lengths']}\n",
    html_body=lambda report, figures: f"<p>toy lengths: {len(report['lengths'])}</p>\n",
    attacked_checkpoints=lambda report: (["condition", "epoch", "model", "x", "y"],
                                         [[a["condition"], a["epoch"], a["model"], "", ""] for a in report["attacks"]]),
    control_summary=lambda control: "Rule: none.")


class ToyScenario:
    """A third scenario: 'attacks' a model by measuring its URI, reads one extra dataset, attacks epoch 1 only."""

    name = "toy"
    default_generation_task = "self_instruct"
    summary_keys = ("lengths",)
    report = TOY_REPORT

    def __init__(self):
        self.attacked: list[tuple[str, Any]] = []

    def references(self, spec: ExperimentSpec) -> list[str]:
        return ["file:///toy-texts"]

    def scans_leakage(self, spec: ExperimentSpec) -> bool:
        return False

    def resolve_inputs(self, spec: ExperimentSpec, inputs: dict[str, Any], runner: Runner, refs: LabRefs) -> None:
        inputs["toy_texts"] = refs.dataset("file:///toy-texts")

    def attacked_epochs(self, spec: ExperimentSpec) -> list[int]:
        return [1]

    def attack(self, spec: ExperimentSpec, inputs: dict[str, Any], model_uri: str, runner: Runner,
               on_update) -> dict[str, Any]:
        self.attacked.append((model_uri, runner.attacker))
        return {"length": len(model_uri), "texts": inputs["toy_texts"].uri}

    def control_verdict(self, spec, results, planted, runner) -> dict[str, Any]:
        return {}

    def figure(self, report: dict[str, Any], store: Any, path: Path) -> bool:
        return False


@pytest.fixture
def toy():
    scenario = register_scenario(ToyScenario())
    try:
        yield scenario
    finally:
        unregister_scenario("toy")


def test_the_built_in_scenarios_are_registered_with_their_reports():
    assert {"extraction", "membership"} <= set(scenario_names())
    for name in ("extraction", "membership"):
        assert get_scenario(name).report is REPORTS.get(name)  # the report package registered it itself
    assert get_scenario("extraction").attacked_epochs(load_spec_text("finetune: {epochs: 3}")) == [1, 2, 3]
    assert checkpoint_epochs(3, "last") == [3]


def test_a_registered_scenario_is_a_valid_spec_and_then_is_not(toy):
    spec = load_spec_text(TOY_SPEC + "conditions: [base]\n")
    assert spec.scenario == "toy" and spec.generator.task == "self_instruct"  # the scenario's default task
    assert spec.references()[-1] == "file:///toy-texts" and not spec.scans_leakage() and not spec.uses_lab()
    assert "toy" in REPORTS
    unregister_scenario("toy")
    with pytest.raises(InvalidSpec) as err:
        load_spec_text(TOY_SPEC + "conditions: [base]\n")
    assert err.value.field == "scenario" and "unknown scenario 'toy'; valid: extraction, membership" in str(err.value)
    assert "toy" not in REPORTS


def test_a_taken_name_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        register_scenario(get_scenario("extraction"))


def test_the_runner_asks_the_registered_scenario(toy, monkeypatch):
    """Its inputs, its attack on base and on the epochs it chose (1 of 2), its report's inputs."""
    def finetune(stub, spec, setting, model_uri, dataset, data_format, on_update, on_compute=None):
        return {e: common_pb2.ArtifactRef(uri=f"file:///ckpt/{e}") for e in range(1, spec.epochs + 1)}

    monkeypatch.setattr(stages, "finetune", finetune)
    spec = load_spec_text(TOY_SPEC + "conditions: [base, original]\nfinetune: {epochs: 2}\n")
    outcome = ExperimentRunner(clients=NO_SERVICES, lab_provider=None, store=None).run(spec, NULL_REPORTER)
    assert [(a["condition"], a["epoch"], a["model"], a["length"]) for a in outcome["attacks"]] == [
        ("base", 0, "/models/target", 14), ("original", 1, "file:///ckpt/1", 14)]
    assert toy.attacked == [("/models/target", "the attacker"), ("file:///ckpt/1", "the attacker")]
    assert outcome["inputs"]["toy_texts"] == "file:///toy-texts" and outcome["positive_control"] == {}


def test_the_controller_reports_the_registered_scenario(toy, tmp_path):
    """ControllerCore builds the toy report, keeps its summary keys, and genleak.report renders it."""
    from genleak.controller.service import ControllerCore
    from genleak.core.settings import StoreSettings
    from genleak.core.store import ArtifactStore

    store = ArtifactStore(StoreSettings(root=f"file://{tmp_path}/store", cache_dir=tmp_path / "cache"))
    core = ControllerCore(store, NO_SERVICES)
    output = core.run_experiment(core.parse_request(TOY_SPEC + "conditions: [base]\n"), NULL_REPORTER)
    assert output.result["lengths"] == {"base@0": 14}
    folder = store.fetch(output.artifacts["report"].uri)
    report = json.loads((folder / "report.json").read_text())
    assert report["scenario"] == "toy" and (folder / "report.md").read_text().startswith("# toy report: toy-run")
    page = (folder / "report.html").read_text()
    assert "<p>toy lengths: 1</p>" in page and "/models/target" in page  # its body, its checkpoint table
    assert render_report_files(report, {})["report.md"] == (folder / "report.md").read_bytes()  # re-rendered alone
