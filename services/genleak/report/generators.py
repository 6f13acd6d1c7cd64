"""The report of a `generators:` spec: one run, a section per generator, and tables comparing them.

The runner tags every result of a generated condition with its generator's name (base, original and the
positive control ran once, untagged) and lists the generators in the outcome. `per_generator` wraps a
scenario's builder: for each generator it builds the scenario's own report from the shared results plus
that generator's (its tags removed, so the section reads as a one-generator report would), and the
combined report holds:
- "generators": [{name, model, task, engine, sampling, config, report}], in spec order;
- the scenario's summary keys by generator name (what the controller's job result keeps);
- "positive_control", "training_data", "stage_seconds", "inputs", "provenance", "spec": the run's;
- "leakage": every scan, tagged (the controller reads the leaked values of all of them at once).
The comparison tables are the scenario's (`ScenarioReport.generator_tables`); report.md and report.html
put them first, then each generator's section.

Like every report module it reads the spec (`spec.for_generator`) without importing the controller.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from genleak.report.compute import compute_summary
from genleak.report.conditions import CONDITION_ORDER, GENERATED_CONDITIONS, condition_label
from genleak.report.controls import sanity_lines
from genleak.report.scenarios import Report, ScenarioReport, Table, report_for

Build = Callable[[Any, str, dict[str, Any], dict[str, Any]], Report]
SHARED = "-"  # the generator column of a shared condition's row


def per_generator(report: ScenarioReport) -> ScenarioReport:
    """`report` whose builder also takes a `generators:` run's outcome (a one-generator outcome is built as
    before, by `report.build` itself)."""
    inner = report.build

    def build(spec: Any, run_name: str, outcome: dict[str, Any], provenance: dict[str, Any]) -> Report:
        if not outcome.get("generators"):
            return inner(spec, run_name, outcome, provenance)
        return build_generators_report(inner, report.summary_keys, spec, run_name, outcome, provenance)

    return dataclasses.replace(report, build=build)


def build_generators_report(build: Build, summary_keys: tuple[str, ...], spec: Any, run_name: str,
                            outcome: dict[str, Any], provenance: dict[str, Any]) -> Report:
    generators = outcome["generators"]
    owned = {stage for g in generators for stage in g["stages"]}
    sections = []
    for g in generators:
        own = build(spec.for_generator(g["name"]), run_name, generator_outcome(outcome, g, owned), provenance)
        sections.append({**{k: g[k] for k in ("name", "model", "task", "engine", "sampling", "config") if k in g},
                         "report": own})
    first = sections[0]["report"]
    return {
        "run": run_name,
        "scenario": spec.scenario,
        "generators": sections,
        **{key: {s["name"]: s["report"].get(key) for s in sections} for key in summary_keys},
        "positive_control": first.get("positive_control") or {},
        "lab_memorization": first.get("lab_memorization"),
        "training_data": outcome.get("training_data") or {},
        "leakage": tagged_leakage(sections),
        "stage_seconds": outcome["stage_seconds"],
        "inputs": outcome["inputs"],
        "provenance": {**provenance, "compute": compute_summary(outcome.get("compute") or {})},
        "compute": outcome.get("compute") or {},
        "spec": spec.model_dump(mode="json"),
    }


def generator_outcome(outcome: dict[str, Any], generator: dict[str, Any], owned: set[str]) -> dict[str, Any]:
    """The outcome one generator's section is built from: the shared results and this generator's, untagged;
    its stages and the shared ones; its model as the `generator` input."""
    name = generator["name"]

    def mine(entry: dict[str, Any]) -> bool:
        return entry.get("generator") in (None, name)

    attacks = [_strip(a) for a in outcome["attacks"] if mine(a)]
    leakage = [_strip(s) for s in outcome.get("leakage") or [] if mine(s)]
    generation = {entry["condition"]: {k: v for k, v in entry.items() if k not in ("condition", "generator")}
                  for entry in (outcome.get("generation") or {}).values() if entry.get("generator") == name}
    training: dict[str, Any] = {}
    for key, entry in (outcome.get("training_data") or {}).items():
        if "generator" not in entry:
            training[key] = entry
        elif entry["generator"] == name:
            training[entry["condition"]] = {k: v for k, v in entry.items() if k not in ("condition", "generator")}
    keep = set(generator["stages"])
    stage_seconds = {k: v for k, v in outcome["stage_seconds"].items() if k not in owned or k in keep}
    compute = {k: v for k, v in (outcome.get("compute") or {}).items() if k not in owned or k in keep}
    inputs = {}
    for key, uri in outcome["inputs"].items():
        if key == f"generator:{name}":
            inputs["generator"] = uri
        elif not key.startswith("generator:"):
            inputs[key] = uri
    shared = {k: v for k, v in outcome.items() if k != "generators"}
    return {**shared, "attacks": attacks, "leakage": leakage, "training_data": training, "stage_seconds": stage_seconds,
            "compute": compute, "inputs": inputs,
            "generation": {c: generation[c] for c in GENERATED_CONDITIONS if c in generation}}


def _strip(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != "generator"}


def tagged_leakage(sections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every section's scans once: the shared ones as they are, each generator's tagged with its name."""
    out = [scan for scan in sections[0]["report"].get("leakage") or [] if scan["condition"] not in GENERATED_CONDITIONS]
    for section in sections:
        out += [{**scan, "generator": section["name"]} for scan in section["report"].get("leakage") or []
                if scan["condition"] in GENERATED_CONDITIONS]
    return sorted(out, key=lambda s: CONDITION_ORDER.index(s["condition"]))


def section_report(report: Report, section: dict[str, Any]) -> Report:
    """A section's report as its scenario renders it, with the values its models leaked (the controller reads
    them for the whole run into the combined report, keyed by generator-qualified condition labels)."""
    own = dict(section["report"])
    leaked = report.get("leaked_values") or {}
    if leaked:
        values = {}
        for scan in own.get("leakage") or []:
            tagged = {**scan, "generator": section["name"]} if scan["condition"] in GENERATED_CONDITIONS else scan
            if condition_label(tagged) in leaked:
                values[condition_label(scan)] = leaked[condition_label(tagged)]
        own["leaked_values"] = values
    return own


def section_title(index: int, section: dict[str, Any]) -> str:
    return f"Generator {index}: {section['name']} ({section['model']})"


def describe_rows(report: Report) -> tuple[list[str], list[list[Any]]]:
    """The generators: name, model, task, engine, and the sampling/config that differ from the task's defaults."""
    rows = []
    for section in report["generators"]:
        knobs = {**(section.get("config") or {}), **(section.get("sampling") or {})}
        rows.append([section["name"], section["model"], section.get("task", ""), section.get("engine", ""),
                     ", ".join(f"{k}={v}" for k, v in knobs.items()) or "the task's defaults"])
    return ["generator", "model", "task", "engine", "sampling and task knobs"], rows


def comparison_tables(report: Report) -> list[Table]:
    tables = report_for(report["scenario"]).generator_tables
    return tables(report["generators"]) if tables is not None else []


def intro(report: Report) -> str:
    """What ran once and what ran per generator (report.md and report.html open with it)."""
    sections = report["generators"]
    first = sections[0]["report"]
    shared = [c for c in first.get("all_conditions") or first.get("conditions") or []
              if c.split(" [")[0] not in GENERATED_CONDITIONS]
    names = [f"{c} (the positive control)" if c == "planted" else c for c in dict.fromkeys(c.split(" [")[0]
                                                                                     for c in shared)]
    listed = " and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else "".join(names)
    once = f"{listed} ran once and {'are' if len(names) > 1 else 'is'} shared; " if names else ""
    return (f"One run, {len(sections)} generators: {once}each generator's data was generated, tuned on and attacked "
            "on its own. The tables below compare the leakage each generator's data causes; a section per "
            "generator follows with its full report.")


# ---- report.md -----------------------------------------------------------------------------------

def render_generators_markdown(report: Report, roc_file: str | None = None) -> str:
    """report.md of a `generators:` report: the comparison, then a section per generator (its headings one
    level down)."""
    sections = report["generators"]
    lines = [f"# genleak report: {report['run']} ({len(sections)} generators)", "", intro(report), ""]
    lines += sanity_lines(report)
    header, rows = describe_rows(report)
    lines += ["## Generators compared", "", *markdown_table(header, rows), ""]
    for table in comparison_tables(report):
        lines += [f"## {table['title']}", ""]
        lines += [table["note"], ""] if table.get("note") else []
        lines += [*markdown_table(table["header"], table["rows"]), ""]
    if roc_file:
        lines += [f"![ROC curves, every generator]({roc_file})", ""]
    scenario = report_for(report["scenario"])
    for index, section in enumerate(sections, start=1):
        body = scenario.markdown(section_report(report, section), None).splitlines()[1:]  # its title: the section's
        lines += [f"## {section_title(index, section)}", *[("#" + line if line.startswith("#") else line)
                                                          for line in body], ""]
    return "\n".join(lines) + "\n"


def markdown_table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)]
