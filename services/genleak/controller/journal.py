"""Run journal: where each execution of an experiment stands, readable by anyone with the store.

Every execution gets a folder `runs/<run>/<spec hash>/<stamp>/`: `status.json` is rewritten while the
run goes (state, stages done/total, the latest stage message, the report when there is one), and
`report/` is the immutable report artifact published at the end. The status is a journal, not an
artifact: no manifest, overwritten in place (atomically on both backends), so `genleak status RUN`
works for embedded and deployed runs alike. A run killed mid-way keeps its last status ("running",
with an old `updated_at`): readers show how long ago that was.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from genleak.core.errors import ArtifactNotFound
from genleak.core.progress import ForwardingReporter, Reporter
from genleak.core.store import ArtifactStore
from genleak.core.store.objects import join_key
from genleak.core.store.registry import open_store

STATUS_NAME = "status.json"
WRITE_EVERY_SECONDS = 2.0


def new_stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


@dataclass(frozen=True)
class Execution:
    run: str
    spec_hash: str
    stamp: str

    def uri(self, store: ArtifactStore, *more: str) -> str:
        return store.uri_for("runs", self.run, self.spec_hash, self.stamp, *more)


class RunJournal:
    """Writes one execution's status.json; `reporter()` wraps the job's reporter so every progress
    update reaches the journal (throttled: the store is not a message bus)."""

    def __init__(self, store: ArtifactStore, execution: Execution):
        self._store = store
        self._execution = execution
        self._lock = threading.Lock()
        self._last_write = 0.0
        self._status: dict[str, Any] = {"run": execution.run, "spec_hash": execution.spec_hash,
                                        "stamp": execution.stamp, "state": "running", "started_at": time.time(),
                                        "done": 0, "total": 0, "detail": ""}

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

    def finish(self, state: str, **fields: Any) -> None:
        with self._lock:
            self._status.update(state=state, finished_at=time.time(), **fields)
            self._write_locked()

    def _write_locked(self) -> None:
        self._status["updated_at"] = time.time()
        objects, prefix = open_store(self._execution.uri(self._store), self._store.settings)
        objects.put_bytes(join_key(prefix, STATUS_NAME), json.dumps(self._status, indent=1, sort_keys=True).encode())
        self._last_write = time.monotonic()


def list_executions(store: ArtifactStore, run: str) -> list[dict[str, Any]]:
    """Every execution of `run` with its status (newest first); a status-less folder (runs from before
    the journal) is reported from its report alone."""
    objects, prefix = open_store(store.uri_for("runs", run), store.settings)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for key in objects.list(prefix):
        parts = key[len(prefix):].strip("/").split("/") if prefix else key.split("/")
        if len(parts) < 3:
            continue
        spec_hash, stamp = parts[0], parts[1]
        entry = found.setdefault((spec_hash, stamp), {"run": run, "spec_hash": spec_hash, "stamp": stamp})
        if parts[2] == STATUS_NAME:
            entry.update(json.loads(objects.get_bytes(key)))
        elif parts[2] == "report" and parts[-1] == "MANIFEST.json":
            entry["report_uri"] = Execution(run, spec_hash, stamp).uri(store, "report")
            entry.setdefault("state", "succeeded")
    if not found:
        raise ArtifactNotFound(f"no run named {run!r} in {store.root}")
    return sorted(found.values(), key=lambda e: e["stamp"], reverse=True)


def latest_report_uri(store: ArtifactStore, run: str) -> str:
    for execution in list_executions(store, run):
        if execution.get("report_uri"):
            return execution["report_uri"]
    raise ArtifactNotFound(f"run {run!r} has no finished execution with a report yet")
