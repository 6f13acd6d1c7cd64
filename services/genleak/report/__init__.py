"""A run's report: report.json's content built from the spec and the stages' outcome, and the files
rendered from it (report.md, report.html, figures).

Below the controller, which calls it: it imports no controller, no service and no torch
(pyproject.toml's import-linter contracts). The modules:
- build.py: report.json's content (scenario A; a `targets:` spec's combined report),
  membership.py: scenario B's content, report.md sections and ROC figure;
- markdown.py, html.py, plots.py: report.md, report.html and its figures; files.py: every file by name;
- stats.py: paired condition-vs-base comparisons; extraction_control.py: scenario A's positive control;
  controls.py: the controls' sections; leakage.py: the values each model volunteered (from the store);
- conditions.py: how reports order and name conditions.
"""

from genleak.report.build import build_report, combine_target_reports
from genleak.report.files import render_report_files
from genleak.report.leakage import leaked_values

__all__ = ["build_report", "combine_target_reports", "leaked_values", "render_report_files"]
