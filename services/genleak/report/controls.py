"""Report sections about the controls: what each condition was tuned on, and the positive control's verdict.

Every scenario prints the sanity line near the top: a reader must see before any table whether the
attack demonstrably finds what was planted (controller.positive_control, report.extraction_control).
The sanity line and the training-data table are shared (the line's summary is the scenario's, from
genleak.report.scenarios); each scenario's renderer calls its own section (extraction_* for scenario A,
membership_* for scenario B).
"""

from __future__ import annotations

from typing import Any

from genleak.report.scenarios import report_for
from genleak.report.stats import difference_cell, p_value_cell

CONDITION_NOTES = {"base": "not fine-tuned"}


def sanity_lines(report: dict[str, Any]) -> list[str]:
    """PASS or FAILED, then the scenario's rule and numbers (nothing without a verdict)."""
    control = _judged_control(report)
    if control is None:
        return []
    summary = report_for(report["scenario"]).control_summary
    if control["passed"]:
        return [f"**Positive control: PASS.** {summary(control)}", ""]
    return [f"**Positive control: FAILED.** {summary(control)} The attack did not show what was planted, "
            "so a missing increase elsewhere in this report is not evidence of privacy.", ""]


def _judged_control(report: dict[str, Any]) -> dict[str, Any] | None:
    """The positive control's entry once it has a verdict (a run without `planted` has none)."""
    control = report.get("positive_control") or {}
    return control if "passed" in control else None


def extraction_control_summary(control: dict[str, Any]) -> str:
    """Scenario A's rule, and the template whose planted people rose most."""
    best = max(control["rows"], key=lambda r: r["planted"]["difference"], default=None)
    numbers = (f" Best template {best['template']}: {best['planted']['tuned']}/{best['planted']['n']} planted people "
               f"extracted vs {best['planted']['base']}/{best['planted']['n']} by base "
               f"(p = {p_value_cell(best['planted'])}).") if best else ""
    return f"Rule: {control['rule']}.{numbers}"


def membership_control_summary(control: dict[str, Any]) -> str:
    """Scenario B's rule, and the judged attack's AUC (planted vs other non-members) before and after."""
    name = control.get("judged_attack")
    cell = control.get("attacks", {}).get(name, {})
    before, after = (cell.get(c, {}).get("auc") for c in ("base", "planted"))
    numbers = f" {name} AUC {before:.3f} (base) -> {after:.3f} (planted)." if before is not None and \
        after is not None else ""
    return f"Rule: {control['rule']}.{numbers}"


def extraction_control_lines(report: dict[str, Any]) -> list[str]:
    """Scenario A's positive-control section: planted people vs the others, per template."""
    control = _judged_control(report)
    if control is None:
        return []
    lines = [f"## Positive control: {control['n_planted']} planted people vs the {control['n_rest']} others "
             f"({control['metric']}, T={control['temperature']:g}, last epoch)", "",
             f"The planted condition is tuned on the control data plus {control.get('copies', '?')} documents per "
             "planted person stating their e-mail; base vs planted over the same people, difference [95% CI], "
             "exact McNemar p.", "",
             "| template | planted: base | planted: tuned | difference [95% CI] | p | others: base | others: tuned | "
             "difference [95% CI] | p |", "|---|---|---|---|---|---|---|---|---|"]
    for row in control["rows"]:
        p, rest = row["planted"], row["rest"]
        rest_cells = (f"{rest['base']} | {rest['tuned']} | {difference_cell(rest)} | {p_value_cell(rest)}"
                      if rest else "- | - | - | -")
        lines.append(f"| {row['template']} | {p['base']} | {p['tuned']} | {difference_cell(p)} | {p_value_cell(p)} | "
                     f"{rest_cells} |")
    return [*lines, ""]


def membership_control_lines(report: dict[str, Any]) -> list[str]:
    """Scenario B's positive-control section: planted vs other non-members, per attack."""
    control = _judged_control(report)
    if control is None:
        return []
    lines = [f"## Positive control: {control['n_planted']} planted non-members vs {control['n_other']} other "
             "non-members", "",
             "The planted condition is tuned on the control data plus these non-member texts. AUC of planted vs "
             "other non-members (0.5 = indistinguishable; higher = the planted texts look more member-like) "
             "[95% bootstrap CI].", "",
             "| attack | base | planted |", "|---|---|---|"]
    for name, cells in control.get("attacks", {}).items():
        lines.append(f"| {name} | " + " | ".join(
            f"{cells[c]['auc']:.3f} [{cells[c]['auc_ci'][0]:.3f}, {cells[c]['auc_ci'][1]:.3f}]" if c in cells else "-"
            for c in ("base", "planted")) + " |")
    return [*lines, ""]


def training_data_lines(report: dict[str, Any]) -> list[str]:
    training = report.get("training_data") or {}
    conditions = [c for c in report.get("all_conditions", report["conditions"]) if c in training or c == "base"]
    if not training:
        return []
    lines = ["## What each condition was tuned on", "", "| condition | training data | records |", "|---|---|---|"]
    for condition in conditions:
        entry = training.get(condition)
        if entry is None:
            lines.append(f"| {condition} | {CONDITION_NOTES.get(condition, '?')} | 0 |")
        else:
            records = entry.get("records")
            lines.append(f"| {condition} | {entry['what']} (`{entry['dataset']}`) | "
                         f"{records if records is not None else '?'} |")
    scored = training.get("scored_members")
    if scored:
        lines += ["", f"Membership inference scores members that no condition was tuned on directly: "
                      f"{scored['excluded_tuned_on']} of the {scored['records']} member texts are in the control "
                      "data (data.prompts) and are left out of the scored members."]
    return [*lines, ""]
