"""report.json's content, built from the spec and the stages' outcome: `build_report` (any registered
scenario, genleak.report.scenarios), `build_extraction_report` (scenario A; scenario B's is in membership.py)
and `combine_target_reports` (a `targets:` spec, one report per target).

Aggregation follows the paper (best over epoch x temperature per template and condition),
with the per-temperature table beside it so the best-case choice is visible. The untargeted
leakage table (Presidio over unconditioned samples) sits beside it.
No PII is written here: only counts; per-target outputs and (masked) findings stay in the
attack and scan artifacts.

The spec is the controller's ExperimentSpec, read and not imported: the report package sits below
the controller (pyproject.toml's import-linter contracts).
"""

from __future__ import annotations

from typing import Any

from genleak.report.compute import compute_summary
from genleak.report.conditions import CONDITION_ORDER, PLANTED
from genleak.report.extraction_control import extraction_control
from genleak.report.scenarios import report_for
from genleak.report.stats import compare_to_base, comparison_temperature, mean_and_spread


def build_report(spec: Any, run_name: str, outcome: dict[str, Any], provenance: dict[str, Any]) -> dict[str, Any]:
    """report.json's content, as the spec's scenario builds it; `spec` is the run's ExperimentSpec
    (genleak.controller.spec)."""
    return report_for(spec.scenario).build(spec, run_name, outcome, provenance)


def build_extraction_report(spec: Any, run_name: str, outcome: dict[str, Any],
                            provenance: dict[str, Any]) -> dict[str, Any]:
    """Scenario A's report.json: extraction counts per template, condition and temperature."""
    every = outcome["attacks"]
    attacks = [a for a in every if a["condition"] != PLANTED]  # the positive control has its own section
    conditions = [c for c in CONDITION_ORDER if any(a["condition"] == c for a in attacks)]
    best = {metric: _best_table(attacks, conditions, spec.attack.templates, metric) for metric in ("fuzzy", "exact")}
    temperature = comparison_temperature(spec.attack.temperatures)
    planted = outcome.get("positive_control") or {}
    control = {**planted, **extraction_control(every, planted["positions"], spec.attack.templates, temperature,
                                               "fuzzy", spec.attack.seed)} if planted else {}
    return {
        "run": run_name,
        "scenario": spec.scenario,
        "n_targets": attacks[0]["n_targets"] if attacks else 0,
        "conditions": conditions,
        "templates": spec.attack.templates,
        "temperatures": spec.attack.temperatures,
        "comparison_temperature": temperature,
        "comparison": {m: compare_to_base(attacks, spec.attack.templates, m, temperature, spec.attack.seed)
                       for m in ("fuzzy", "exact")},
        "best": best,
        "relative_change_vs_base": {m: _relative(best[m], conditions) for m in best},
        "sweep": [s.as_dict() for s in spec.finetune.settings()] if len(spec.finetune.settings()) > 1 else [],
        "per_setting": {m: _per_setting(attacks, spec.attack.templates, m) for m in ("fuzzy", "exact")},
        "attacks": [{k: v for k, v in a.items() if k != "rows"} for a in every],
        "all_conditions": [c for c in CONDITION_ORDER if any(a["condition"] == c for a in every)],
        "positive_control": control,
        "training_data": outcome.get("training_data") or {},
        "leakage": [_leakage_entry(scan, spec.leakage.entities if spec.leakage else [])
                    for scan in sorted(outcome.get("leakage") or [], key=lambda s: CONDITION_ORDER.index(s["condition"]))],
        "generation": outcome.get("generation") or {},
        "lab_memorization": _lab_memorization(outcome.get("lab") or {}),
        "stage_seconds": outcome["stage_seconds"],
        "inputs": outcome["inputs"],
        "provenance": {**provenance, "compute": compute_summary(outcome.get("compute") or {})},
        "compute": outcome.get("compute") or {},
        "spec": spec.model_dump(mode="json"),
    }


def _leakage_entry(scan: dict[str, Any], entity_order: list[str]) -> dict[str, Any]:
    keep = ("condition", "epoch", "model", "setting", "setting_label", "sources", "inventory", "finetune",
            "findings_uri", "masked", "pii_salt")
    entry = {k: scan[k] for k in keep if k in scan}

    def rank(entity: str) -> int:
        return entity_order.index(entity) if entity in entity_order else len(entity_order)

    for source in entry.get("sources", {}).values():  # Struct maps come back in no particular order
        source["entities"] = dict(sorted(source["entities"].items(), key=lambda kv: rank(kv[0])))
    return entry


def _lab_memorization(lab: dict[str, Any]) -> dict[str, Any]:
    """Counts only (the lab's examples hold e-mails): how much the base target memorised."""
    memo = lab.get("memorization", {})
    return {"summary": memo.get("summary", ""),
            "probes": {model: {probe: {k: v for k, v in res.items() if k in ("exact", "fuzzy", "total")}
                               for probe, res in probes.items() if isinstance(res, dict)}
                       for model, probes in memo.items() if isinstance(probes, dict)}}


def _best_table(attacks: list[dict], conditions: list[str], templates: list[str], metric: str) -> dict[str, dict[str, dict]]:
    """template -> condition -> {count, temperature, epoch, setting}: the max over sweep setting x epoch x
    temperature (the paper's aggregation)."""
    table: dict[str, dict[str, dict]] = {t: {} for t in templates}
    for attack in attacks:
        for template in templates:
            for temp, cell in sorted(attack["counts"][template].items(), key=lambda kv: float(kv[0])):
                current = table[template].get(attack["condition"])
                # ties keep the first setting, the lower temperature, then the earlier epoch
                if current is None or cell[metric] > current["count"]:
                    table[template][attack["condition"]] = {"count": cell[metric], "temperature": float(temp),
                                                            "epoch": attack["epoch"],
                                                            "setting": attack.get("setting_label", "")}
    return table


def _per_setting(attacks: list[dict], templates: list[str], metric: str) -> list[dict[str, Any]]:
    """The honest view: for each condition and setting group (method, learning rate) at the last epoch,
    each template and temperature, the mean and spread of the count over seeds (no selection)."""
    last: dict[tuple[str, str], int] = {}
    for a in attacks:
        key = (a["condition"], a.get("setting_group", ""))
        last[key] = max(last.get(key, -1), a["epoch"])
    rows = []
    for (condition, group), epoch in last.items():
        runs = [a for a in attacks if a["condition"] == condition and a.get("setting_group", "") == group
                and a["epoch"] == epoch]
        for template in templates:
            temps = sorted(runs[0]["counts"][template], key=float)
            rows.append({"condition": condition, "group": group, "epoch": epoch, "template": template,
                         "seeds": len(runs), "temperatures": {
                             t: mean_and_spread([r["counts"][template][t][metric] for r in runs]) for t in temps}})
    return sorted(rows, key=lambda r: (r["template"], CONDITION_ORDER.index(r["condition"]), r["group"]))


def _relative(best: dict[str, dict[str, dict]], conditions: list[str]) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    for template, row in best.items():
        base = row.get("base", {}).get("count")
        out[template] = {c: (None if not base else (row[c]["count"] - base) / base)
                         for c in conditions if c != "base" and c in row}
    return out


def combine_target_reports(run_name: str, scenario: str, reports: list[dict[str, Any]],
                           provenance: dict[str, Any]) -> dict[str, Any]:
    """The report of a `targets:` spec: each target's full report, in spec order."""
    return {"run": run_name, "scenario": scenario, "provenance": provenance,
            "targets": [{"target": r["inputs"].get("target", ""), "report": r} for r in reports]}
