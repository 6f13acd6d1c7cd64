"""`genleak status RUN`, `genleak runs`, `genleak cancel RUN` and `genleak report RUN`: read runs back from
the store's run journal (embedded or deployed alike) and control them through it."""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from genleak.controller.journal import (Execution, effective_state, latest_report_uri, list_executions, list_runs,
                                        request_cancel)
from genleak.core.errors import InvalidSpec
from genleak.core.settings import Settings
from genleak.core.store import ArtifactStore

# What a listing shows of each execution (the journal's status.json holds more).
FIELDS = ("run", "stamp", "spec_hash", "state", "recorded_state", "done", "total", "detail", "error", "report_uri",
          "started_at", "updated_at", "finished_at", "owner", "cancel_requested")


def status_command(args: argparse.Namespace, settings: Settings) -> int:
    executions = [_shown(e) for e in list_executions(ArtifactStore(settings.store), args.run)]
    shown = executions if args.all else executions[:1]
    if args.json:
        print(json.dumps(shown, indent=1))
        return 0
    for execution in shown:
        print(_status_line(execution))
    if not args.all and len(executions) > 1:
        print(f"({len(executions) - 1} earlier execution(s); --all lists them)")
    return 0


def runs_command(args: argparse.Namespace, settings: Settings) -> int:
    """One line per run: its latest execution's state, stages and when it started."""
    store = ArtifactStore(settings.store)
    latest: dict[str, dict[str, Any]] = {}
    counts: dict[str, int] = {}
    for execution in list_runs(store):  # newest first within a run
        latest.setdefault(execution["run"], _shown(execution))
        counts[execution["run"]] = counts.get(execution["run"], 0) + 1
    rows = [{**entry, "executions": counts[run]} for run, entry in latest.items()
            if not args.state or entry["state"] in args.state]
    if args.json:
        print(json.dumps(rows, indent=1))
    elif not rows:
        print(f"no runs in {store.root}" + (f" in state {', '.join(args.state)}" if args.state else ""))
    else:
        print(_runs_table(rows))
    return 0


def cancel_command(args: argparse.Namespace, settings: Settings) -> int:
    """Ask the controller that runs RUN to cancel it, through the run journal (it polls for the request:
    embedded and deployed controllers alike), and wait for the run to end. Exit 0 once every running
    execution of RUN ended; 1 when none was running or one still runs after --wait seconds."""
    if args.job:
        return _cancel_job(args, settings)
    if not args.run:
        raise InvalidSpec("name the run to cancel (or give --job JOB_ID with a controller address)", field="run")
    store = ArtifactStore(settings.store)
    executions = [_shown(e) for e in list_executions(store, args.run)]
    running = [e for e in executions if e["state"] == "running"]
    if not running:
        print(f"{args.run} is not running (latest execution {executions[0]['stamp']}: {executions[0]['state']})",
              file=sys.stderr)
        return 1
    for execution in running:
        request_cancel(store, Execution.of(execution))
        print(f"cancel requested: {args.run} {execution['stamp']}", file=sys.stderr, flush=True)
    if args.wait <= 0:
        return 0
    return 0 if _wait_for_end(store, args.run, {e["stamp"] for e in running}, args.wait) else 1


def _cancel_job(args: argparse.Namespace, settings: Settings) -> int:
    """The controller's CancelJob RPC on the job id `genleak run` printed (a deployed controller); waits up to
    --wait seconds for the job to end, as cancellation is cooperative (at the job's next progress update)."""
    from genleak.rpc.channels import TERMINAL, open_channel
    from genleak.v1 import common_pb2, controller_pb2_grpc

    address = args.controller or settings.controller_addr
    if not address:
        raise InvalidSpec("--job needs --controller or GENLEAK_CONTROLLER_ADDR", field="controller")
    with open_channel(address, settings.auth_token, tls=settings.tls, lb_policy=settings.grpc_lb_policy) as channel:
        stub = controller_pb2_grpc.ControllerServiceStub(channel)
        job = stub.CancelJob(common_pb2.CancelJobRequest(job_id=args.job))
        deadline = time.monotonic() + max(args.wait, 0)
        while job.state not in TERMINAL and time.monotonic() < deadline:
            time.sleep(0.5)
            job = stub.GetJob(common_pb2.GetJobRequest(job_id=args.job))
    print(f"{job.job_id}: {common_pb2.JobState.Name(job.state).removeprefix('JOB_STATE_').lower()}")
    return 0 if job.state in TERMINAL or args.wait <= 0 else 1


def _wait_for_end(store: ArtifactStore, run: str, stamps: set[str], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        current = {e["stamp"]: e for e in map(_shown, list_executions(store, run)) if e["stamp"] in stamps}
        if all(e["state"] != "running" for e in current.values()):
            for stamp, e in sorted(current.items()):
                print(f"{run} {stamp}: {e['state']}")
            return True
        if time.monotonic() >= deadline:
            print(f"{run} still running after {seconds:g}s; the cancel request stays in the store and is acted on "
                  "at the run's next progress update", file=sys.stderr)
            return False
        time.sleep(1.0)


def _shown(entry: dict[str, Any]) -> dict[str, Any]:
    """The listed fields, with the state as it is now: a running status whose process is gone is interrupted."""
    shown = {k: entry[k] for k in FIELDS if k in entry}
    shown["state"] = effective_state(entry)
    shown["recorded_state"] = entry.get("state", "unknown")
    return shown


def _status_line(e: dict[str, Any]) -> str:
    state = e["state"]
    progress = f"{e.get('done', 0)}/{e.get('total', 0)} stages" if e.get("total") else ""
    age = ""
    if state in ("running", "interrupted") and e.get("updated_at"):
        age = f", last update {_ago(time.time() - e['updated_at'])} ago"
    why = f"interrupted: {_why_interrupted(e)}; `genleak run` again resumes from the store" \
        if state == "interrupted" else ""
    parts = [f"{e['run']} {e['stamp']} [{e['spec_hash']}]: {state}", progress and f"{progress}{age}",
             e.get("cancel_requested") and state == "running" and "cancel requested", why,
             e.get("detail") and f"latest: {e['detail']}", e.get("error") and f"error: {e['error']}",
             e.get("report_uri") and f"report: {e['report_uri']}"]
    return "\n  ".join(p for p in parts if p)


def _why_interrupted(e: dict[str, Any]) -> str:
    owner = e.get("owner") or {}
    if owner.get("host") == socket.gethostname():
        return f"its process {owner.get('pid')} on {owner['host']} is gone"
    since = _ago(time.time() - e.get("updated_at", 0)) if e.get("updated_at") else "ever"
    return f"no heartbeat from {owner.get('host', 'its controller')} for {since}"


def _runs_table(rows: list[dict[str, Any]]) -> str:
    table = [("RUN", "STATE", "STAGES", "STARTED", "RUNS", "LATEST")]
    for r in rows:
        stages = f"{r.get('done', 0)}/{r['total']}" if r.get("total") else "-"
        started = datetime.fromtimestamp(r["started_at"]).strftime("%Y-%m-%d %H:%M") if r.get("started_at") else \
            r["stamp"][:15]
        latest = r.get("report_uri") if r["state"] == "succeeded" else (r.get("error") or r.get("detail") or "")
        table.append((r["run"], r["state"], stages, started, str(r["executions"]), (latest or "")[:100]))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1] for row in table)


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
