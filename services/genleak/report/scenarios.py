"""How each scenario's report is built and rendered, looked up by the report's "scenario" string.

A report is re-rendered from report.json alone (`genleak report`), without the spec or the
controller, so the report package keeps its own small registry: `build_report`, report.md and
report.html ask it instead of branching on the scenario. The built-in scenarios are registered by
genleak.report's __init__; a new scenario registers its `ScenarioReport` beside its controller
plugin (genleak.controller.scenarios).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from genleak.core.registry import Registry

Report = dict[str, Any]  # report.json's content
# One table of the comparison across generators (a `generators:` spec): {"title", "note", "header", "rows"}.
Table = dict[str, Any]


@dataclass(frozen=True)
class ScenarioReport:
    """One scenario's report: its content and the parts of report.md and report.html that are its own."""

    # (spec, run name, the runner's outcome, provenance) -> report.json's content; `spec` is the run's
    # ExperimentSpec, read and not imported (the report package sits below the controller).
    build: Callable[[Any, str, dict[str, Any], dict[str, Any]], Report]
    # (report, the ROC figure's file name or None) -> the whole of report.md
    markdown: Callable[[Report, str | None], str]
    # (report, extra PNGs by file name) -> report.html's sections above the shared provenance
    html_body: Callable[[Report, dict[str, bytes]], str]
    # report -> (header, rows) of the provenance's "Attacked checkpoints" table: what each attack wrote
    attacked_checkpoints: Callable[[Report], tuple[list[str], list[list[Any]]]]
    # report["positive_control"] -> the rule and numbers after PASS/FAILED in the sanity line
    control_summary: Callable[[dict[str, Any]], str]
    # The report keys a job's result keeps (the controller's Scenario.summary_keys): with `generators:` the
    # combined report holds each of them by generator name.
    summary_keys: tuple[str, ...] = ()
    # The sections of a `generators:` report ([{"name", "model", ..., "report"}], each report this scenario's
    # own, built on base/original/planted and that generator's conditions) -> the tables comparing them;
    # None: the combined report lists the generators and their sections only (genleak.report.generators).
    generator_tables: Callable[[list[dict[str, Any]]], list[Table]] | None = None


REPORTS: Registry[ScenarioReport] = Registry("report scenario", field="scenario")


def register_report(scenario: str, report: ScenarioReport) -> ScenarioReport:
    """Build and render reports whose "scenario" is `scenario` with `report` (a taken name is refused)."""
    return REPORTS.register(scenario, report)


def report_for(scenario: str) -> ScenarioReport:
    """The registered report of `scenario`; InvalidSpec naming `scenario` and the valid names otherwise."""
    return REPORTS.get(scenario)
