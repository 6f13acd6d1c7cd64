"""In-process job manager: idempotent submission, progress snapshots, watch, cancel.

Every service runs its long work through one JobManager. A job id is derived from the
request's spec hash, so the same request returns the same job (idempotent). Results
themselves are cached in the artifact store (see genleak.core.outputs), so a restarted
service that receives the same request again returns without recomputing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Iterator

from genleak.core.errors import Cancelled, GenleakError, JobNotFound, ResourceExhausted, disk_full_reason
from genleak.core.metrics import JobMetrics
from genleak.core.progress import Reporter
from genleak.core.specs import Spec

log = logging.getLogger(__name__)


class JobState(str, Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class JobOutput:
    """What a job function returns: artifact refs by role plus a small JSON summary."""

    artifacts: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    cached: bool = False


@dataclass(frozen=True)
class JobSnapshot:
    job_id: str
    kind: str
    state: JobState
    stage: str = ""
    done: int = 0
    total: int = 0
    message: str = ""
    error_code: str = ""
    error_message: str = ""
    output: JobOutput = JobOutput()
    created_at: float = 0.0
    finished_at: float = 0.0
    version: int = 0


JobFn = Callable[[Reporter], JobOutput]


class JobManager:
    """`max_queued` bounds the jobs not yet finished (queued + running): one more is RESOURCE_EXHAUSTED.
    `max_finished` bounds the finished snapshots kept for GetJob/WatchJob (oldest dropped first), so a
    long-running service's memory does not grow with every job it ever ran; a dropped job's result
    stays in the store, so resubmitting the same request answers it from there."""

    def __init__(self, workers: int = 1, max_queued: int = 16, gate: threading.Semaphore | None = None,
                 max_finished: int = 1000, service: str = ""):
        # `service` labels this manager's metrics (genleak.core.metrics); start_server sets it when empty.
        # `gate` is shared by services living in one process (the embedded stack): model work
        # on 2 cores runs one job at a time instead of thrashing torch's thread pools.
        self._gate = gate or contextlib.nullcontext()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="genleak-job")
        self._max_queued = max_queued
        self._max_finished = max_finished
        self._jobs: dict[str, JobSnapshot] = {}
        self._reporters: dict[str, Reporter] = {}
        self._cond = threading.Condition()
        self.metrics = JobMetrics(service)

    def submit(self, kind: str, spec: Spec, fn: JobFn) -> JobSnapshot:
        job_id = f"{kind}-{spec.spec_hash()[:20]}"
        with self._cond:
            existing = self._jobs.get(job_id)
            if existing and existing.state in (JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED):
                return existing
            if self._active_count() >= self._max_queued:
                raise ResourceExhausted(f"job queue is full ({self._max_queued} jobs); retry later")
            reporter = Reporter(callback=lambda *a: self._on_progress(job_id, *a))
            self._reporters[job_id] = reporter
            self._store(JobSnapshot(job_id=job_id, kind=kind, state=JobState.QUEUED, created_at=time.time()))
        self._pool.submit(self._run, job_id, fn, reporter)
        return self.get(job_id)

    def get(self, job_id: str) -> JobSnapshot:
        with self._cond:
            if job_id not in self._jobs:
                raise JobNotFound(f"no job {job_id!r} on this server")
            return self._jobs[job_id]

    def list(self, kind: str = "", states: frozenset[JobState] = frozenset()) -> list[JobSnapshot]:
        """The jobs this manager holds (every unfinished one, the newest `max_finished` finished ones),
        newest first (by creation time, then id); only those of `kind` and in `states` when given."""
        with self._cond:
            snaps = [s for s in self._jobs.values()
                     if (not kind or s.kind == kind) and (not states or s.state in states)]
        return sorted(snaps, key=lambda s: (s.created_at, s.job_id), reverse=True)

    def watch(self, job_id: str, poll_s: float = 1.0, alive: Callable[[], bool] = lambda: True) -> Iterator[JobSnapshot]:
        """Yield a snapshot now and on every change, until the job is terminal or the client left."""
        seen = -1
        while alive():
            with self._cond:
                snap = self.get(job_id)
                if snap.version == seen:
                    self._cond.wait(timeout=poll_s)
                    snap = self.get(job_id)
            if snap.version != seen:
                seen = snap.version
                yield snap
            if snap.state.terminal:
                return

    def cancel(self, job_id: str) -> JobSnapshot:
        with self._cond:
            snap = self.get(job_id)
            if not snap.state.terminal:
                self._reporters[job_id].cancel()
                if snap.state is JobState.QUEUED:
                    self._finish(job_id, JobState.CANCELLED, "CANCELLED", "cancelled before start")
            return self._jobs[job_id]

    def shutdown(self) -> None:
        with self._cond:
            for job_id, snap in self._jobs.items():
                if not snap.state.terminal:
                    self._reporters[job_id].cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, job_id: str, fn: JobFn, reporter: Reporter) -> None:
        try:
            with self._gate:
                with self._cond:
                    if self._jobs[job_id].state.terminal:
                        return  # cancelled while queued
                    self._update(job_id, state=JobState.RUNNING)
                output = fn(reporter)
        except Cancelled:
            self._finish(job_id, JobState.CANCELLED, "CANCELLED", "job cancelled")
        except GenleakError as exc:
            log.warning("job %s failed: %s", job_id, exc.message)
            self._finish(job_id, JobState.FAILED, exc.code, exc.message)
        except OSError as exc:
            # Local disk full anywhere in a job (temp JSONL, checkpoint work folders): RESOURCE_EXHAUSTED,
            # not an opaque INTERNAL, so the operator knows what to fix.
            reason = disk_full_reason(exc)
            log.exception("job %s failed on local I/O", job_id)
            self._finish(job_id, JobState.FAILED, "RESOURCE_EXHAUSTED" if reason else "INTERNAL",
                         f"local disk: {reason}" if reason else "internal error (see service log)")
        except Exception:  # noqa: BLE001 - report a generic error, keep the trace in the log
            log.exception("job %s crashed", job_id)
            self._finish(job_id, JobState.FAILED, "INTERNAL", "internal error (see service log)")
        else:
            self._finish(job_id, JobState.SUCCEEDED, output=output)

    def _on_progress(self, job_id: str, stage: str, done: int, total: int, message: str) -> None:
        with self._cond:
            self._update(job_id, stage=stage, done=done, total=total, message=message)

    def _finish(self, job_id: str, state: JobState, code: str = "", message: str = "", output: JobOutput | None = None) -> None:
        with self._cond:
            changes: dict[str, Any] = {"state": state, "finished_at": time.time(), "error_code": code, "error_message": message}
            if output is not None:
                changes["output"] = output
            self._update(job_id, **changes)
            self._forget_oldest_finished()

    def _forget_oldest_finished(self) -> None:
        finished = [job_id for job_id, snap in self._jobs.items() if snap.state.terminal]  # insertion order
        for job_id in finished[: max(0, len(finished) - self._max_finished)]:
            del self._jobs[job_id]
            self._reporters.pop(job_id, None)

    def _update(self, job_id: str, **changes: Any) -> None:
        snap = self._jobs[job_id]
        self._store(dataclasses.replace(snap, version=snap.version + 1, **changes))

    def _store(self, snap: JobSnapshot) -> None:
        self.metrics.changed(self._jobs.get(snap.job_id), snap)
        self._jobs[snap.job_id] = snap
        self._cond.notify_all()

    def _active_count(self) -> int:
        return sum(1 for s in self._jobs.values() if not s.state.terminal)


class CallLimiter:
    """Admission control for synchronous, model-heavy RPCs (ScoreTexts, DetectPII): at most
    `concurrent` run at once (each may load a model: memory stays bounded), at most `queued` more
    wait for a slot, and a call beyond that is refused at once with RESOURCE_EXHAUSTED so the
    client backs off instead of piling up threads and memory on the server."""

    def __init__(self, concurrent: int = 2, queued: int = 16):
        if concurrent < 1 or queued < 0:
            raise ValueError("CallLimiter needs concurrent >= 1 and queued >= 0")
        self.concurrent = concurrent
        self.queued = queued
        self._slots = threading.Semaphore(concurrent)
        self._lock = threading.Lock()
        self._admitted = 0  # running + waiting
        self._running = 0
        self.peak_running = 0
        self.peak_admitted = 0
        self.rejected = 0

    @contextlib.contextmanager
    def slot(self, what: str = "call") -> Iterator[None]:
        with self._lock:
            if self._admitted >= self.concurrent + self.queued:
                self.rejected += 1
                raise ResourceExhausted(f"{what}: server busy ({self.concurrent} running, {self.queued} queued); "
                                        f"retry later")
            self._admitted += 1
            self.peak_admitted = max(self.peak_admitted, self._admitted)
        try:
            with self._slots:
                with self._lock:
                    self._running += 1
                    self.peak_running = max(self.peak_running, self._running)
                try:
                    yield
                finally:
                    with self._lock:
                        self._running -= 1
        finally:
            with self._lock:
                self._admitted -= 1
