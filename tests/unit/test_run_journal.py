"""The run journal as run control reads it (issue 16, item 5): who owns a running execution and whether it
is still alive (a SIGKILLed `genleak run` reads "interrupted", not "running" forever), a cancel request
through the store reaching the owner, every run listed, and the CLI's views of it (`genleak runs`,
`genleak status --json`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from genleak.cli import main
from genleak.controller.journal import (STALE_SECONDS, Execution, RunJournal, current_owner, effective_state,
                                        list_executions, list_runs, request_cancel)
from genleak.core.settings import StoreSettings
from genleak.core.store import ArtifactStore

ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("cli_leaves_no_trace")


@pytest.fixture
def store(tmp_path):
    return ArtifactStore(StoreSettings(root=f"file://{tmp_path}/store", cache_dir=tmp_path / "cache"))


def _cli(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def test_a_run_whose_process_was_killed_is_interrupted(store, tmp_path, capsys, monkeypatch):
    """A real owner: a process that opens an execution's journal (as the controller does) and is SIGKILLed."""
    owner = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT / 'services')!r})
        from genleak.controller.journal import Execution, RunJournal
        from genleak.core.settings import StoreSettings
        from genleak.core.store import ArtifactStore
        store = ArtifactStore(StoreSettings(root={store.root!r}, cache_dir={str(tmp_path / 'cache2')!r}))
        journal = RunJournal(store, Execution("killed", "h1", "20260101T000000Z-aaaaaa"), plan=["a", "b"])
        with journal.watch(cancel=lambda: None):
            journal.progress(1, 2, "a: done")
            journal.stage_done("a")
            print("running", flush=True)
            time.sleep(600)
        """)
    proc = subprocess.Popen([sys.executable, "-c", owner], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "running"
        [entry] = list_executions(store, "killed")
        assert entry["owner"]["pid"] == proc.pid and effective_state(entry) == "running"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        proc.kill()
    [entry] = list_executions(store, "killed")
    assert entry["state"] == "running" and effective_state(entry) == "interrupted"  # recorded vs as it is
    monkeypatch.setenv("GENLEAK_CACHE_DIR", str(tmp_path / "cache"))
    code, out = _cli(capsys, "status", "killed", "--store", store.root)
    assert code == 0 and ": interrupted" in out and f"process {proc.pid}" in out and "resumes" in out
    code, out = _cli(capsys, "runs", "--store", store.root)
    assert code == 0 and out.splitlines()[1].split()[:3] == ["killed", "interrupted", "1/2"]


def test_liveness_by_pid_start_on_this_host_and_by_heartbeat_elsewhere():
    me = current_owner()
    now = time.time()
    running = {"state": "running", "updated_at": now - 5}
    assert effective_state({**running, "owner": me}) == "running"
    if me["pid_start"] is not None:  # Linux: the same pid started at another time is another process
        assert effective_state({**running, "owner": {**me, "pid_start": me["pid_start"] - 1}}) == "interrupted"
    elsewhere = {**me, "host": me["host"] + "-elsewhere"}
    assert effective_state({**running, "owner": elsewhere}) == "running"  # a fresh heartbeat
    assert effective_state({**running, "owner": elsewhere, "updated_at": now - STALE_SECONDS - 1}) == "interrupted"
    assert effective_state({"state": "succeeded", "owner": {**me, "pid": 0}}) == "succeeded"  # ended is ended


def test_a_cancel_request_in_the_store_reaches_the_runs_owner(store):
    execution = Execution("to-cancel", "h2", "20260101T000000Z-bbbbbb")
    journal = RunJournal(store, execution)
    cancelled = threading.Event()
    with journal.watch(cancel=cancelled.set, poll_seconds=0.05):
        assert not cancelled.wait(0.3)  # nothing asked yet
        request_cancel(store, execution)
        assert cancelled.wait(5)
    journal.finish("cancelled")
    [entry] = list_executions(store, "to-cancel")
    assert entry["state"] == "cancelled" and entry["cancel_requested"]


def test_every_run_is_listed_newest_execution_first(store, tmp_path, capsys, monkeypatch):
    for run, stamp, state in (("b-run", "20260102T000000Z-000001", "failed"),
                              ("a-run", "20260101T000000Z-000001", "succeeded"),
                              ("a-run", "20260103T000000Z-000002", "cancelled")):
        RunJournal(store, Execution(run, "h", stamp)).finish(state)
    assert [(e["run"], e["state"]) for e in list_runs(store)] == [
        ("a-run", "cancelled"), ("a-run", "succeeded"), ("b-run", "failed")]
    monkeypatch.setenv("GENLEAK_CACHE_DIR", str(tmp_path / "cache"))
    code, out = _cli(capsys, "runs", "--json", "--store", store.root)
    rows = json.loads(out)
    assert code == 0 and [(r["run"], r["state"], r["executions"]) for r in rows] == [
        ("a-run", "cancelled", 2), ("b-run", "failed", 1)]
    code, out = _cli(capsys, "runs", "--state", "failed", "--store", store.root)
    assert [line.split()[0] for line in out.splitlines()] == ["RUN", "b-run"]
    code, out = _cli(capsys, "status", "a-run", "--all", "--json", "--store", store.root)
    assert [e["state"] for e in json.loads(out)] == ["cancelled", "succeeded"]


def test_cancel_says_so_when_nothing_runs(store, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GENLEAK_CACHE_DIR", str(tmp_path / "cache"))
    RunJournal(store, Execution("over", "h", "20260101T000000Z-000001")).finish("succeeded")
    assert main(["cancel", "over", "--store", store.root]) == 1
    assert "over is not running (latest execution 20260101T000000Z-000001: succeeded)" in capsys.readouterr().err
