"""Scenario B (`scenario: membership`): membership inference on the target's pretraining members after
fine-tuning, usually on self-instruct generated data.

Each attacked model scores mia.members and mia.nonmembers with the configured MIA attacks (in shards
when mia.shards > 1). Members that a condition was tuned on directly are left out of the scored ones
(the clean control); the positive control tunes on a share of the non-members, which must then look
more member-like than the others (judged here, after the attacks, from their scores).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genleak.controller import positive_control as control
from genleak.controller import sharding, stages
from genleak.controller.scenarios.base import (ATTACK_SETTINGS, LabRefs, Runner, checkpoint_epochs,
                                               register_scenario)
from genleak.controller.spec import CONTROL_CONDITIONS, GENERATED_CONDITIONS, ExperimentSpec
from genleak.controller.stages import OnUpdate
from genleak.core.datasets import load_records
from genleak.core.errors import InvalidSpec
from genleak.core.store import ArtifactStore
from genleak.report.membership import plot_condition_rocs
from genleak.report.scenarios import report_for
from genleak.v1 import common_pb2


class MembershipScenario:
    name = "membership"
    default_generation_task = "self_instruct"
    report = report_for("membership")
    summary_keys = report.summary_keys  # ("table", "relative_auc_change_vs_base"): by generator name in a `generators:` report

    def references(self, spec: ExperimentSpec) -> list[str]:
        refs = [spec.mia.members, spec.mia.nonmembers]
        refs += [r for r in (spec.mia.reference_model, spec.mia.perplexity_dataset) if r]
        refs += [v for knobs in spec.mia.attacks.values() for v in knobs.values()  # e.g. ne's mask_model
                 if isinstance(v, str) and v.startswith("lab:")]
        return refs

    def scans_leakage(self, spec: ExperimentSpec) -> bool:
        return False  # the scan looks for PII, which membership inference does not target

    def resolve_inputs(self, spec: ExperimentSpec, inputs: dict[str, Any], runner: Runner, refs: LabRefs) -> None:
        inputs.update(members=refs.dataset(spec.mia.members), nonmembers=refs.dataset(spec.mia.nonmembers))
        # Attack knobs may name lab models (the neighbourhood attack's mask_model: lab:mask_model).
        inputs[ATTACK_SETTINGS] = spec.mia.model_copy(update={"attacks": {
            name: {k: refs.model(v) if isinstance(v, str) and v.startswith("lab:") else v for k, v in knobs.items()}
            for name, knobs in spec.mia.attacks.items()}})
        if any(c in spec.conditions for c in CONTROL_CONDITIONS):
            inputs["members"] = _untouched_members(spec, inputs, runner)
        if control.PLANTED in spec.conditions:
            _plant_nonmembers(spec, inputs, runner)
        if spec.mia.perplexity_dataset:
            inputs["perplexity"] = refs.dataset(spec.mia.perplexity_dataset)
        if spec.mia.reference_model:
            inputs["reference"] = refs.model(spec.mia.reference_model)

    def attacked_epochs(self, spec: ExperimentSpec) -> list[int]:
        return checkpoint_epochs(spec.finetune.epochs, spec.mia.checkpoints)

    def attack(self, spec: ExperimentSpec, inputs: dict[str, Any], model_uri: str, runner: Runner,
               on_update: OnUpdate) -> dict[str, Any]:
        datasets = {k: inputs[k] for k in ("members", "nonmembers", "perplexity") if k in inputs}
        mia = inputs[ATTACK_SETTINGS]  # spec.mia with lab references resolved
        if mia.shards > 1:
            return sharding.membership(runner.store("sharded jobs"), runner.attacker, mia, model_uri, datasets,
                                       inputs.get("reference"), on_update)
        return stages.membership(runner.attacker, mia, model_uri, datasets, inputs.get("reference"), on_update)

    def control_verdict(self, spec: ExperimentSpec, results: list[dict[str, Any]], planted: dict[str, Any],
                        runner: Runner) -> dict[str, Any]:
        """AUC of the planted vs the other non-members, base against planted at its last attacked epoch."""
        last: dict[str, dict[str, Any]] = {}
        for result in results:
            if result["condition"] in ("base", control.PLANTED) and \
                    result["epoch"] >= last.get(result["condition"], {}).get("epoch", -1):
                last[result["condition"]] = result
        if set(last) != {"base", control.PLANTED}:
            return {}
        store = runner.store("positive control")
        scores = {condition: load_records(store, result["scores_uri"], "scores") for condition, result in last.items()}
        return control.membership_control(scores, planted["rows"], list(spec.mia.attacks), spec.mia.seed)

    def figure(self, report: dict[str, Any], store: ArtifactStore, path: Path) -> bool:
        """ROC curves of each condition's last attacked checkpoint, read from the MIA jobs' roc artifacts
        (the store is how services hand over bulk data). A `generators:` report draws every generator's
        conditions in one figure, a generated condition named `<condition> (<generator>)`."""
        last: dict[str, dict] = {}
        for index, section in enumerate(report.get("generators") or [{"name": "", "report": report}]):
            for row in section["report"]["checkpoints"]:  # ordered by condition, then epoch
                generated = row["condition"].split(" [")[0] in GENERATED_CONDITIONS
                if not generated and index > 0:
                    continue  # base, original, planted: shared, drawn once
                last[f"{row['condition']} ({section['name']})" if generated and section["name"] else
                     row["condition"]] = row
        if not last:
            return False
        curves = {c: json.loads((store.fetch(row["roc_uri"]) / "metrics.json").read_text()) for c, row in last.items()}
        plot_condition_rocs(curves, path)
        return True


def _untouched_members(spec: ExperimentSpec, inputs: dict[str, Any], runner: Runner) -> common_pb2.ArtifactRef:
    """The clean control: mia.members without the texts that `original`/`planted` are tuned on (they would be
    re-trained, not remembered); the count left out goes to the report."""
    members = runner.records(inputs["members"], "mia.members")
    trained = control.tuned_texts(runner.records(inputs["prompts"], "data.prompts"))
    kept = control.untouched(members, trained, spec.mia.text_field)
    inputs["training"]["scored_members"] = {"dataset": inputs["members"].uri, "records": len(members),
                                            "excluded_tuned_on": len(members) - len(kept)}
    if len(kept) == len(members):
        return inputs["members"]
    if not kept:
        raise InvalidSpec("every member text is in data.prompts, which original/planted are tuned on: no "
                          "untouched member is left to score", field="mia.members")
    return runner.publish_input("members-untouched", kept, [inputs["members"].sha256 or inputs["members"].uri,
                                                             inputs["prompts"].sha256 or inputs["prompts"].uri],
                                {"excluded_tuned_on": len(members) - len(kept)})


def _plant_nonmembers(spec: ExperimentSpec, inputs: dict[str, Any], runner: Runner) -> None:
    """The planted condition's data: the control data plus a seeded share of the non-member texts."""
    nonmembers = runner.records(inputs["nonmembers"], "mia.nonmembers")
    prompts = runner.records(inputs["prompts"], "data.prompts")
    c = spec.control
    rows = control.pick_planted_rows(len(nonmembers), c.fraction, c.seed)
    planted = control.planted_text_records([str(nonmembers[r].get(spec.mia.text_field, "")) for r in rows])
    inputs["planted_data"] = runner.publish_input(
        "planted", prompts + planted,
        ["nonmembers", inputs["prompts"].sha256, inputs["nonmembers"].sha256, spec.mia.text_field,
         c.model_dump(mode="json")], {"planted_records": len(planted)})
    inputs["planted"] = {"kind": "nonmembers", "rows": rows, "n_rows": len(rows)}
    inputs["training"][control.PLANTED] = runner.describe(
        inputs["planted_data"], f"data.prompts plus {len(rows)} non-member texts", len(prompts) + len(planted))


register_scenario(MembershipScenario())
