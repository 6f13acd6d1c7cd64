"""Run journal: where each execution of an experiment stands, readable by anyone with the store.

Every execution gets a folder `runs/<run>/<spec hash>/<stamp>/`: `status.json` is rewritten while the
run goes (state, stages done/total and their names, the latest stage message, the report when there is
one, and the process that owns the run), and `report/` is the immutable report artifact published at
the end. The status is a journal, not an artifact: no manifest, overwritten in place (atomically on
both backends), so `genleak status RUN` works for embedded and deployed runs alike.

Run control goes through the same folder, so it needs nothing but the store: `genleak cancel` writes
`cancel.json` there and the owning controller, which polls for it while the run goes, cancels the run.

A run killed mid-way keeps its last status ("running"); readers tell it apart by its owner: on the
owner's host the owning process (pid and start time, so a reused pid does not count) must be alive;
elsewhere the heartbeat (the status is rewritten at least every HEARTBEAT_SECONDS) must be recent. A
running status that fails the check reads as "interrupted" (`effective_state`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from genleak.core.errors import ArtifactNotFound, GenleakError
from genleak.core.progress import ForwardingReporter, Reporter
from genleak.core.store import ArtifactStore
from genleak.core.store.objects import join_key
from genleak.core.store.registry import open_store

log = logging.getLogger(__name__)

STATUS_NAME = "status.json"
CANCEL_NAME = "cancel.json"
WRITE_EVERY_SECONDS = 2.0
# How often a running controller looks for a cancel request and rewrites its status (the heartbeat).
POLL_SECONDS = 3.0
HEARTBEAT_SECONDS = 30.0
# A running status whose owner cannot be checked (another host) and that has not been rewritten for
# this long was left by a dead process: ten missed heartbeats.
STALE_SECONDS = 10 * HEARTBEAT_SECONDS


def new_stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


@dataclass(frozen=True)
class Execution:
    run: str
    spec_hash: str
    stamp: str

    def uri(self, store: ArtifactStore, *more: str) -> str:
        return store.uri_for("runs", self.run, self.spec_hash, self.stamp, *more)

    @classmethod
    def of(cls, entry: dict[str, Any]) -> "Execution":
        """The execution a listed status entry describes."""
        return cls(entry["run"], entry["spec_hash"], entry["stamp"])


class RunJournal:
    """Writes one execution's status.json; `reporter()` wraps the job's reporter so every progress
    update reaches the journal (throttled: the store is not a message bus), and `watch()` keeps the
    heartbeat going and turns a cancel request in the store into a cancelled run."""

    def __init__(self, store: ArtifactStore, execution: Execution, spec_sha256: str = "",
                 plan: list[str] | None = None):
        self._store = store
        self._execution = execution
        self._lock = threading.Lock()
        self._last_write = 0.0
        self._status: dict[str, Any] = {"run": execution.run, "spec_hash": execution.spec_hash,
                                        "stamp": execution.stamp, "state": "running", "started_at": time.time(),
                                        "done": 0, "total": 0, "detail": "", "owner": current_owner(),
                                        "spec_sha256": spec_sha256, "plan": list(plan or []), "stages_done": []}

    def reporter(self, inner: Reporter) -> Reporter:
        def forward(stage: str, done: int, total: int, message: str = "") -> None:
            inner.update(stage, done, total, message)
            self.progress(done, total, message)

        return ForwardingReporter(forward, inner)

    def progress(self, done: int, total: int, detail: str) -> None:
        with self._lock:
            self._status.update(done=done, total=total, detail=detail)
            if time.monotonic() - self._last_write >= WRITE_EVERY_SECONDS or done == total:
                self._write_locked()

    def stage_done(self, name: str) -> None:
        """A stage's outputs are in the store: a rerun of this spec finds it cached (`genleak validate`)."""
        with self._lock:
            if name not in self._status["stages_done"]:
                self._status["stages_done"].append(name)
            self._write_locked()

    def finish(self, state: str, **fields: Any) -> None:
        with self._lock:
            self._status.update(state=state, finished_at=time.time(), **fields)
            self._write_locked()

    @contextlib.contextmanager
    def watch(self, cancel: Callable[[], None], poll_seconds: float = POLL_SECONDS) -> Iterator[None]:
        """While the run goes: every `poll_seconds` look for a cancel request (then call `cancel`) and
        rewrite the status when it is older than the heartbeat."""
        stop = threading.Event()
        thread = threading.Thread(target=self._watch_loop, args=(cancel, stop, poll_seconds), daemon=True,
                                  name=f"genleak-journal-{self._execution.run}")
        self._write_now()  # the owner is on record before any stage starts
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=poll_seconds + 1)

    def _watch_loop(self, cancel: Callable[[], None], stop: threading.Event, poll_seconds: float) -> None:
        cancelled = False
        while not stop.wait(poll_seconds):
            try:
                if not cancelled and cancel_requested(self._store, self._execution):
                    log.info("run %s %s: cancel requested", self._execution.run, self._execution.stamp)
                    cancel()
                    cancelled = True
                with self._lock:
                    if time.monotonic() - self._last_write >= HEARTBEAT_SECONDS:
                        self._write_locked()
            except (GenleakError, OSError) as exc:  # the store hiccuped: the next poll tries again
                log.warning("run journal of %s: %s", self._execution.run, exc)

    def _write_now(self) -> None:
        with self._lock:
            self._write_locked()

    def _write_locked(self) -> None:
        self._status["updated_at"] = time.time()
        objects, prefix = open_store(self._execution.uri(self._store), self._store.settings)
        objects.put_bytes(join_key(prefix, STATUS_NAME), json.dumps(self._status, indent=1, sort_keys=True).encode())
        self._last_write = time.monotonic()


# ---- run control: who owns a run, is it alive, cancel it


def current_owner() -> dict[str, Any]:
    """This process, as a running status records it."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "pid_start": _process_start(os.getpid())}


def owner_alive(owner: dict[str, Any], host: str | None = None) -> bool | None:
    """True/False for an owner on this host (its pid is running and started when recorded); None when
    the owner is on another host (or unrecorded) and only the heartbeat can tell."""
    if not owner or owner.get("host") != (host or socket.gethostname()):
        return None
    pid = int(owner.get("pid", 0))
    if pid <= 0 or not _pid_running(pid):
        return False
    recorded, now = owner.get("pid_start"), _process_start(pid)
    return recorded is None or now is None or recorded == now


def effective_state(entry: dict[str, Any], now: float | None = None) -> str:
    """The recorded state, except that a "running" status whose owner is gone reads "interrupted"."""
    state = entry.get("state", "unknown")
    if state != "running":
        return state
    alive = owner_alive(entry.get("owner") or {})
    if alive is None:
        alive = (now or time.time()) - float(entry.get("updated_at", 0)) < STALE_SECONDS
    return "running" if alive else "interrupted"


def request_cancel(store: ArtifactStore, execution: Execution, reason: str = "genleak cancel") -> None:
    """Ask the controller running `execution` to cancel it (it polls for this every POLL_SECONDS)."""
    objects, prefix = open_store(execution.uri(store), store.settings)
    request = {"requested_at": time.time(), "by": current_owner(), "reason": reason}
    objects.put_bytes(join_key(prefix, CANCEL_NAME), json.dumps(request, sort_keys=True).encode())


def cancel_requested(store: ArtifactStore, execution: Execution) -> bool:
    objects, prefix = open_store(execution.uri(store), store.settings)
    return objects.exists(join_key(prefix, CANCEL_NAME))


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return not _is_zombie(pid)


def _proc_stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat's fields after the command name (Linux; None elsewhere or when gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def _is_zombie(pid: int) -> bool:
    """A killed child its parent has not reaped yet still answers kill(0); it runs nothing."""
    fields = _proc_stat(pid)
    return fields is not None and fields[0] == "Z"


def _process_start(pid: int) -> int | None:
    """When the process started, in clock ticks since boot (stat field 22): with the pid it names one
    process, as pids are reused. None where /proc is not there."""
    fields = _proc_stat(pid)
    return int(fields[19]) if fields is not None and len(fields) > 19 else None


# ---- reading the journal back


def list_executions(store: ArtifactStore, run: str) -> list[dict[str, Any]]:
    """Every execution of `run` with its status (newest first); a status-less folder (runs from before
    the journal) is reported from its report alone."""
    found = _read_executions(store, store.uri_for("runs", run), run)
    if not found:
        raise ArtifactNotFound(f"no run named {run!r} in {store.root}")
    return found


def list_runs(store: ArtifactStore) -> list[dict[str, Any]]:
    """Every execution of every run in the store (newest first within a run, runs by name)."""
    return sorted(_read_executions(store, store.uri_for("runs"), run=None), key=lambda e: e["run"])  # stable


def _read_executions(store: ArtifactStore, uri: str, run: str | None) -> list[dict[str, Any]]:
    """Status entries under `uri` (one run's folder when `run` is given, else all of runs/)."""
    objects, prefix = open_store(uri, store.settings)
    depth = 0 if run is not None else 1  # key parts before <spec hash>/<stamp>/...
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for key in objects.list(prefix):
        parts = key[len(prefix):].strip("/").split("/") if prefix else key.split("/")
        if len(parts) < 3 + depth:
            continue
        name = run if run is not None else parts[0]
        spec_hash, stamp, leaf = parts[depth], parts[depth + 1], parts[depth + 2]
        entry = found.setdefault((name, spec_hash, stamp), {"run": name, "spec_hash": spec_hash, "stamp": stamp})
        if leaf == STATUS_NAME and len(parts) == 3 + depth:
            entry.update(json.loads(objects.get_bytes(key)))
        elif leaf == CANCEL_NAME and len(parts) == 3 + depth:
            entry["cancel_requested"] = True
        elif leaf == "report" and parts[-1] == "MANIFEST.json":
            entry["report_uri"] = Execution(name, spec_hash, stamp).uri(store, "report")
            entry.setdefault("state", "succeeded")
    return sorted(found.values(), key=lambda e: e["stamp"], reverse=True)


def latest_report_uri(store: ArtifactStore, run: str) -> str:
    for execution in list_executions(store, run):
        if execution.get("report_uri"):
            return execution["report_uri"]
    raise ArtifactNotFound(f"run {run!r} has no finished execution with a report yet")
