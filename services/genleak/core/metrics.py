"""Prometheus metrics of a genleak process, defined once, and the HTTP endpoint that serves them.

Every service reports its jobs through its JobManager (genleak.core.jobs), which calls JobMetrics on
each state change; store operations report their retries through genleak.core.retry. The metrics live
in prometheus-client's default registry, so one endpoint per process serves them all: the embedded
stack of `genleak run` (four services in one process) exposes one /metrics whose series carry a
`service` label per service. `genleak serve` and `genleak run` start the endpoint when
GENLEAK_METRICS_PORT is set (Settings.metrics_port), on the gRPC server's host.

Metrics (labels in braces):
  genleak_jobs_total{service,kind,state}            jobs that entered each state (queued, running,
                                                    succeeded, failed, cancelled)
  genleak_job_duration_seconds{service,kind,state}  seconds from running to the end, per end state
                                                    (a job cancelled while queued never ran: not observed)
  genleak_jobs_queued{service}, genleak_jobs_running{service}
                                                    jobs waiting for a worker, jobs running now
  genleak_jobs_cached_total{service,kind}           succeeded jobs answered from the store's cache
  genleak_tokens_total{service,kind}                tokens that jobs trained, generated or scored (the
                                                    count the job result carries; cached results add none)
  genleak_job_tokens_per_second{service,kind}       the last computed job's tokens/s (its compute record)
  genleak_retries_total{operation}                  retries of transient failures, by operation:
                                                    s3_upload, s3_download, s3_stat, s3_list, ... (the
                                                    store) and remote_job (the controller's job calls)
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any, Callable, Mapping

from prometheus_client import Counter, Gauge, Histogram, start_http_server

JOBS = Counter("genleak_jobs", "Jobs that entered each state", ["service", "kind", "state"])
JOB_DURATION = Histogram("genleak_job_duration_seconds", "Seconds a job ran, from running to its end",
                         ["service", "kind", "state"],
                         buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400))
JOBS_QUEUED = Gauge("genleak_jobs_queued", "Jobs accepted and waiting for a worker", ["service"])
JOBS_RUNNING = Gauge("genleak_jobs_running", "Jobs running now", ["service"])
JOBS_CACHED = Counter("genleak_jobs_cached", "Succeeded jobs whose result came from the store's cache",
                      ["service", "kind"])
TOKENS = Counter("genleak_tokens", "Tokens that jobs trained, generated or scored", ["service", "kind"])
TOKENS_PER_SECOND = Gauge("genleak_job_tokens_per_second", "Tokens per second of the last job that computed",
                          ["service", "kind"])
RETRIES = Counter("genleak_retries", "Retries of transient failures (S3 store operations, remote jobs)",
                  ["operation"])

_GAUGES = {"QUEUED": JOBS_QUEUED, "RUNNING": JOBS_RUNNING}
_TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
# Where a job result carries the tokens it computed (generation, membership inference, fine-tuning).
_TOKEN_COUNTS = (("generated_tokens_approx",), ("tokens_scored",), ("summary", "useful_tokens"))


class JobMetrics:
    """The metrics of one JobManager: `service` labels its series (set before the first job)."""

    def __init__(self, service: str = ""):
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()
        self._service = ""
        if service:
            self.service = service

    @property
    def service(self) -> str:
        return self._service

    @service.setter
    def service(self, name: str) -> None:
        self._service = name
        for gauge in _GAUGES.values():  # the series exist (at 0) before the first job
            gauge.labels(name)

    def changed(self, before: Any | None, after: Any) -> None:
        """A job snapshot changed (`before` None: the job is new); counts a change of state."""
        old = before.state.value if before is not None else None
        new = after.state.value
        if old == new:
            return
        service, kind = self._service, after.kind
        JOBS.labels(service, kind, new.lower()).inc()
        if old in _GAUGES:
            _GAUGES[old].labels(service).dec()
        if new in _GAUGES:
            _GAUGES[new].labels(service).inc()
        with self._lock:
            if new == "RUNNING":
                self._started[after.job_id] = time.monotonic()
                return
            started = self._started.pop(after.job_id, None) if new in _TERMINAL else None
        if started is not None:
            JOB_DURATION.labels(service, kind, new.lower()).observe(time.monotonic() - started)
        if new == "SUCCEEDED":
            self._succeeded(kind, after.output)

    def _succeeded(self, kind: str, output: Any) -> None:
        if output.cached:
            JOBS_CACHED.labels(self._service, kind).inc()
            return
        tokens = token_count(output.result)
        if tokens:
            TOKENS.labels(self._service, kind).inc(tokens)
        rate = tokens_per_second(output.result)
        if rate is not None:
            TOKENS_PER_SECOND.labels(self._service, kind).set(rate)


def token_count(result: Mapping[str, Any]) -> int | None:
    """The tokens a job result says it computed, where it carries such a count."""
    for path in _TOKEN_COUNTS:
        value: Any = result
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            return int(value)
    return None


def tokens_per_second(result: Mapping[str, Any]) -> float | None:
    """The result's compute record's tokens/s (or its own `tokens_per_second`); None where it has none."""
    compute = result.get("compute")
    for value in (compute.get("tokens_per_second") if isinstance(compute, Mapping) else None,
                  result.get("tokens_per_second")):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def count_retry(what: str) -> None:
    """One retry of `what` (call_with_retry's text, "S3 upload of s3://b/k"): the part before " of " is
    the operation label, lower-cased with underscores (s3_upload), so the series stay few."""
    operation = re.sub(r"[^a-z0-9]+", "_", what.split(" of ", 1)[0].lower()).strip("_") or "unknown"
    RETRIES.labels(operation).inc()


# ---- the endpoint ----

_servers: dict[tuple[str, int], list] = {}  # (host, port) -> [http server, thread, starters not yet stopped]
_servers_lock = threading.Lock()


def start_metrics_server(port: int, host: str = "0.0.0.0") -> tuple[int, Callable[[], None]]:
    """Serve GET /metrics on host:port (0: any free port) from a daemon thread; returns the port and a
    stop function. Servers of one process that share a port share the endpoint (the embedded stack):
    it stops when the last of them calls its stop function."""
    with _servers_lock:
        entry = _servers.get((host, port)) if port else None
        if entry is None:
            httpd, thread = start_http_server(port, addr=host)
            port = httpd.server_port
            entry = _servers[(host, port)] = [httpd, thread, 0]
        entry[2] += 1
    stopped = threading.Event()

    def stop() -> None:
        if stopped.is_set():
            return
        stopped.set()
        with _servers_lock:
            entry[2] -= 1
            if entry[2] > 0:
                return
            _servers.pop((host, port), None)
        entry[0].shutdown()
        entry[0].server_close()

    return port, stop
