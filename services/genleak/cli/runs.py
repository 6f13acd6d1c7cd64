"""`genleak status RUN` and `genleak report RUN`: read runs back from the store (embedded or deployed)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from genleak.controller.journal import latest_report_uri, list_executions
from genleak.core.settings import Settings
from genleak.core.store import ArtifactStore


def status_command(args: argparse.Namespace, settings: Settings) -> int:
    executions = list_executions(ArtifactStore(settings.store), args.run)
    shown = executions if args.all else executions[:1]
    for execution in shown:
        print(_status_line(execution))
    if not args.all and len(executions) > 1:
        print(f"({len(executions) - 1} earlier execution(s); --all lists them)")
    return 0


def _status_line(e: dict) -> str:
    state = e.get("state", "unknown")
    progress = f"{e.get('done', 0)}/{e.get('total', 0)} stages" if e.get("total") else ""
    age = ""
    if state == "running" and e.get("updated_at"):
        seconds = time.time() - e["updated_at"]
        # A run that stopped updating long ago was killed (its next start resumes from the store).
        age = f", last update {_ago(seconds)} ago" + (" (stalled or killed?)" if seconds > 600 else "")
    parts = [f"{e['run']} {e['stamp']} [{e['spec_hash']}]: {state}", progress and f"{progress}{age}",
             e.get("detail") and f"latest: {e['detail']}", e.get("error") and f"error: {e['error']}",
             e.get("report_uri") and f"report: {e['report_uri']}"]
    return "\n  ".join(p for p in parts if p)


def _ago(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def report_command(args: argparse.Namespace, settings: Settings) -> int:
    """Re-render the latest (or a named) execution's report with this version's renderers."""
    from genleak.report.files import render_report_files

    store = ArtifactStore(settings.store)
    uri = args.uri or latest_report_uri(store, args.run)
    folder = store.fetch(uri)
    report = json.loads((folder / "report.json").read_text())
    files = render_report_files(report, {p.name: p.read_bytes() for p in sorted(folder.glob("roc*.png"))})
    print(files["report.md"].decode())
    print(f"report: {uri}")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (out / name).write_bytes(data)
    return 0
