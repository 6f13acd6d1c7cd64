"""Jobs that survive their service: submit, follow, and on a lost service submit again.

Start* RPCs are idempotent by construction: the job id is the hash of the request, and a finished
job's outputs are published to the store under that key. So when a service dies mid-job (its
process killed, its pod rescheduled), the caller waits with exponential backoff for the service to
answer again and submits the same request: a job that had finished is answered from the store, a
job that had not is recomputed from its inputs, and the artifacts are the same either way
(content-hashed, published atomically: nothing half-written was ever visible).

What is retried: UNAVAILABLE (connection refused or dropped; the stream broke), NOT_FOUND from
WatchJob (a restarted service no longer knows the job), RESOURCE_EXHAUSTED from Start* (queue full),
and a job that ended FAILED with UNAVAILABLE (a dependency such as the S3 endpoint was down). Bad
input, missing models and failed computations are not retried: they would fail again.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Callable

import grpc

from genleak.core.errors import GenleakError
from genleak.rpc.channels import RemoteJobError, wait_for_job
from genleak.v1 import common_pb2

log = logging.getLogger(__name__)

RETRYABLE_START = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)
RETRYABLE_WATCH = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.NOT_FOUND)
RETRYABLE_JOB_CODES = ("UNAVAILABLE",)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded by a total time budget (not an attempt count: a pod
    restart takes as long as it takes)."""

    initial_seconds: float = 0.5
    max_seconds: float = 10.0
    multiplier: float = 2.0
    budget_seconds: float = 300.0

    def delays(self) -> "_Delays":
        return _Delays(self)


class _Delays:
    def __init__(self, policy: RetryPolicy):
        self._policy = policy
        self._next = policy.initial_seconds
        self._deadline = time.monotonic() + policy.budget_seconds
        self.attempts = 0

    def sleep_or_give_up(self, reason: str) -> bool:
        """Sleep before the next attempt; False when the budget is spent."""
        delay = min(self._next, self._policy.max_seconds) * random.uniform(0.8, 1.2)
        if time.monotonic() + delay > self._deadline:
            return False
        self.attempts += 1
        log.warning("retrying in %.1fs (attempt %d): %s", delay, self.attempts, reason)
        time.sleep(delay)
        self._next *= self._policy.multiplier
        return True


class ServiceUnavailable(GenleakError):
    """The service stayed unreachable for the whole retry budget."""

    code = "UNAVAILABLE"


def run_job(start: Callable[[], common_pb2.Job], stub, on_update: Callable[[common_pb2.Job], None] | None = None,
            policy: RetryPolicy | None = None) -> common_pb2.Job:
    """`start()` submits the job (a Start* call); returns the succeeded job, raises RemoteJobError
    for a job that failed for good and ServiceUnavailable when the retry budget runs out."""
    delays = (policy or RetryPolicy()).delays()
    while True:
        reason = _attempt(start, stub, on_update)
        if isinstance(reason, common_pb2.Job):
            return reason
        if not delays.sleep_or_give_up(reason):
            raise ServiceUnavailable(f"service still unavailable after {delays.attempts} retries: {reason}")


def _attempt(start, stub, on_update) -> common_pb2.Job | str:
    """The succeeded job, or why it is worth trying again (anything else raises)."""
    try:
        job = start()
    except grpc.RpcError as exc:
        if exc.code() not in RETRYABLE_START:
            raise
        return f"start: {exc.code().name}: {exc.details()}"
    try:
        return wait_for_job(stub, job, on_update)
    except grpc.RpcError as exc:
        if exc.code() not in RETRYABLE_WATCH:
            raise
        return f"watch {job.job_id}: {exc.code().name}: {exc.details()}"
    except RemoteJobError as exc:
        if exc.code not in RETRYABLE_JOB_CODES:
            raise
        return f"job {job.job_id} failed with {exc.code}: {exc}"
