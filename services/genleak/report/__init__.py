"""A run's report: report.json's content built from the spec and the stages' outcome, and the files
rendered from it (report.md, report.html, figures).

Below the controller, which calls it: it imports no controller, no service and no torch
(pyproject.toml's import-linter contracts). The modules:
- scenarios.py: each scenario's builder and renderers, by the report's "scenario" (the two built-in
  scenarios are registered below; importing the package registers them);
- build.py: report.json's content (scenario A; a `targets:` spec's combined report),
  membership.py: scenario B's content, report.md sections and ROC figure;
- markdown.py, html.py, plots.py: report.md, report.html and its figures; files.py: every file by name;
- stats.py: paired condition-vs-base comparisons; extraction_control.py: scenario A's positive control;
  controls.py: the controls' sections; leakage.py: the values each model volunteered (from the store);
- conditions.py: how reports order and name conditions;
- generators.py: a `generators:` spec's report (a section per generator, built by the scenario's builder on
  that generator's outcome), comparison.py: each scenario's tables comparing the generators.
"""

from genleak.report import html, markdown, membership
from genleak.report.build import build_extraction_report, build_report, combine_target_reports
from genleak.report.comparison import extraction_generator_tables, membership_generator_tables
from genleak.report.controls import extraction_control_summary, membership_control_summary
from genleak.report.files import render_report_files
from genleak.report.leakage import leaked_values
from genleak.report.generators import per_generator
from genleak.report.scenarios import ScenarioReport, register_report

# Here, above the modules that hold the parts: html.py imports markdown.py and membership.py, so neither
# could name html.py's part of its scenario without an import cycle. per_generator: their builders also
# build a `generators:` run's report (a section per generator); a new scenario wraps its report the same way.
register_report("extraction", per_generator(ScenarioReport(build=build_extraction_report,
                                                           markdown=markdown.render_extraction_markdown,
                                                           html_body=html.extraction_body,
                                                           attacked_checkpoints=html.extraction_checkpoints,
                                                           control_summary=extraction_control_summary,
                                                           summary_keys=("best", "relative_change_vs_base"),
                                                           generator_tables=extraction_generator_tables)))
register_report("membership", per_generator(ScenarioReport(build=membership.build_membership_report,
                                                           markdown=membership.render_membership_markdown,
                                                           html_body=html.membership_body,
                                                           attacked_checkpoints=html.membership_checkpoints,
                                                           control_summary=membership_control_summary,
                                                           summary_keys=("table", "relative_auc_change_vs_base"),
                                                           generator_tables=membership_generator_tables)))

__all__ = ["build_report", "combine_target_reports", "leaked_values", "render_report_files"]
