"""The files of a report artifact, rendered from the report dict: what the controller publishes and
what `genleak report` re-renders, named the same way (roc.png, or roc-<i>.png per target)."""

from __future__ import annotations

import json
from typing import Any

from genleak.report.html import render_html
from genleak.report.markdown import render_any_markdown


def render_report_files(report: dict[str, Any], figures: dict[str, bytes]) -> dict[str, bytes]:
    """report.json, report.md, report.html and the figures, by file name."""
    if "targets" in report:
        rocs: list[str | None] | str | None = [f"roc-{i}.png" if f"roc-{i}.png" in figures else None
                                               for i in range(1, len(report["targets"]) + 1)]
    else:
        rocs = "roc.png" if "roc.png" in figures else None
    return {"report.json": json.dumps(report, indent=1, sort_keys=True).encode(),
            "report.md": render_any_markdown(report, rocs).encode(),
            "report.html": render_html(report, figures).encode("utf-8"), **figures}
