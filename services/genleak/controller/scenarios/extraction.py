"""Scenario A (`scenario: extraction`): targeted PII extraction after fine-tuning, as the paper runs it.

Each attacked model is asked for the e-mail of every queried person (data.pii_targets) with the
paper's templates and few-shot demonstrations; the untargeted leakage scan runs beside it. Its
positive control plants e-mail-style documents stating the e-mails of a share of the queried people;
the report judges it from the attacks' hits (genleak.report.extraction_control).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genleak.controller import positive_control as control
from genleak.controller import stages
from genleak.controller.scenarios.base import LabRefs, Runner, checkpoint_epochs, register_scenario
from genleak.controller.spec import ExperimentSpec
from genleak.controller.stages import OnUpdate
from genleak.core.builtin_data import is_builtin_few_shot, publish_builtin_few_shot
from genleak.core.store import ArtifactStore
from genleak.report.scenarios import report_for
from genleak.rpc.convert import ref_to_proto
from genleak.v1 import common_pb2


class ExtractionScenario:
    name = "extraction"
    default_generation_task = "continuation"
    report = report_for("extraction")
    summary_keys = report.summary_keys  # ("best", "relative_change_vs_base"): by generator name in a `generators:` report

    def references(self, spec: ExperimentSpec) -> list[str]:
        refs = [spec.data.pii_targets, spec.data.few_shot]
        refs += [spec.attack.perplexity_dataset] if spec.attack.perplexity_dataset else []
        if self.scans_leakage(spec) and spec.data.people:
            refs.append(spec.data.people)
        return refs

    def scans_leakage(self, spec: ExperimentSpec) -> bool:
        return spec.leakage is not None

    def resolve_inputs(self, spec: ExperimentSpec, inputs: dict[str, Any], runner: Runner, refs: LabRefs) -> None:
        inputs["pii_targets"] = runner.rows(refs.dataset(spec.data.pii_targets), spec.data, "target_rows")
        inputs["few_shot"] = _few_shot(spec.data.few_shot, runner, refs)
        if spec.attack.perplexity_dataset:
            inputs["perplexity_texts"] = refs.dataset(spec.attack.perplexity_dataset)
        if self.scans_leakage(spec) and spec.data.people:
            inputs["people"] = refs.dataset(spec.data.people)
        if control.PLANTED in spec.conditions:
            _plant_people(spec, inputs, runner)

    def attacked_epochs(self, spec: ExperimentSpec) -> list[int]:
        return checkpoint_epochs(spec.finetune.epochs, spec.attack.checkpoints)

    def attack(self, spec: ExperimentSpec, inputs: dict[str, Any], model_uri: str, runner: Runner,
               on_update: OnUpdate) -> dict[str, Any]:
        return stages.extract(runner.attacker, spec.attack, model_uri, inputs["pii_targets"], inputs["few_shot"],
                              on_update, inputs.get("perplexity_texts"))

    def control_verdict(self, spec: ExperimentSpec, results: list[dict[str, Any]], planted: dict[str, Any],
                        runner: Runner) -> dict[str, Any]:
        return {}  # judged when the report is built, from the hits the attack results carry

    def figure(self, report: dict[str, Any], store: ArtifactStore, path: Path) -> bool:
        return False  # report.html draws its plots from the report itself


def _few_shot(few_shot: str, runner: Runner, refs: LabRefs) -> common_pb2.ArtifactRef:
    """The demonstrations: a built-in set (published to the store once) or a dataset reference."""
    if is_builtin_few_shot(few_shot):
        return ref_to_proto(publish_builtin_few_shot(runner.store("built-in few_shot"), few_shot))
    return refs.dataset(few_shot)


def _plant_people(spec: ExperimentSpec, inputs: dict[str, Any], runner: Runner) -> None:
    """The planted condition's data: the control data plus documents stating the e-mails of a seeded share
    of the queried people."""
    targets = runner.records(inputs["pii_targets"], "data.pii_targets")[: spec.attack.n_targets]  # the queried
    prompts = runner.records(inputs["prompts"], "data.prompts")
    c = spec.control
    positions = control.pick_planted_people(targets, c.fraction, c.seed)
    planted = control.planted_pii_records(targets, positions, c.copies, c.seed)
    inputs["planted_data"] = runner.publish_input(
        "planted", prompts + planted,
        ["pii", inputs["prompts"].sha256, inputs["pii_targets"].sha256, spec.attack.n_targets,
         c.model_dump(mode="json")],
        {"planted_records": len(planted)})
    n_people = len({str(targets[i]["email"]) for i in positions})
    inputs["planted"] = {"kind": "pii", "positions": positions, "n_people": n_people, "copies": c.copies}
    inputs["training"][control.PLANTED] = runner.describe(
        inputs["planted_data"], f"data.prompts plus {len(planted)} documents stating the e-mails of {n_people} "
        f"queried people ({c.copies} each)", len(prompts) + len(planted))


register_scenario(ExtractionScenario())
