"""Jobs that survive their service: submit, follow, and on a lost service submit again.

Start* RPCs are idempotent by construction: the job id is the hash of the request, and a finished
job's outputs are published to the store under that key. So when a service dies mid-job (its
process killed, its pod rescheduled), the caller waits with exponential backoff for the service to
answer again and submits the same request: a job that had finished is answered from the store, a
job that had not is recomputed from its inputs, and the artifacts are the same either way
(content-hashed, published atomically: nothing half-written was ever visible).

The backoff and its time budget are genleak.core.retry's one policy (JOB_RETRY by default).

What is retried: UNAVAILABLE (connection refused or dropped; the stream broke), NOT_FOUND from
WatchJob (a restarted service no longer knows the job), RESOURCE_EXHAUSTED from Start* (queue full),
and a job that ended FAILED with UNAVAILABLE (a dependency such as the S3 endpoint was down). Bad
input, missing models and failed computations are not retried: they would fail again.
"""

from __future__ import annotations

import logging
from typing import Callable

import grpc

from genleak.core.errors import GenleakError
from genleak.core.retry import RetryBudgetSpent, RetryPolicy, TransientFailure, call_with_retry
from genleak.rpc.channels import RemoteJobError, wait_for_job
from genleak.v1 import common_pb2

__all__ = ["JOB_RETRY", "RetryPolicy", "ServiceUnavailable", "run_job"]

log = logging.getLogger(__name__)

RETRYABLE_START = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)
RETRYABLE_WATCH = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.NOT_FOUND)
RETRYABLE_JOB_CODES = ("UNAVAILABLE",)

# Five minutes for a lost service to come back (a pod reschedule, an image pull), counted from the
# first submission; delays grow to 10 s so a restarted service is found soon after it listens.
JOB_RETRY = RetryPolicy(budget_seconds=300.0, initial_delay_seconds=0.5, max_delay_seconds=10.0)


class ServiceUnavailable(GenleakError):
    """The service stayed unreachable for the whole retry budget."""

    code = "UNAVAILABLE"


def run_job(start: Callable[[], common_pb2.Job], stub, on_update: Callable[[common_pb2.Job], None] | None = None,
            policy: RetryPolicy | None = None) -> common_pb2.Job:
    """`start()` submits the job (a Start* call); returns the succeeded job, raises RemoteJobError
    for a job that failed for good and ServiceUnavailable when the retry budget runs out."""
    try:
        return call_with_retry(lambda: _attempt(start, stub, on_update), policy or JOB_RETRY,
                               what="remote job", log=log)
    except RetryBudgetSpent as spent:
        raise ServiceUnavailable(f"service still unavailable after {spent.attempts - 1} retries: "
                                 f"{spent.reason}") from None


def _attempt(start, stub, on_update) -> common_pb2.Job:
    """The succeeded job; TransientFailure says why it is worth trying again (anything else raises)."""
    try:
        job = start()
    except grpc.RpcError as exc:
        if exc.code() not in RETRYABLE_START:
            raise
        raise TransientFailure(f"start: {exc.code().name}: {exc.details()}") from exc
    try:
        return wait_for_job(stub, job, on_update)
    except grpc.RpcError as exc:
        if exc.code() not in RETRYABLE_WATCH:
            raise
        raise TransientFailure(f"watch {job.job_id}: {exc.code().name}: {exc.details()}") from exc
    except RemoteJobError as exc:
        if exc.code not in RETRYABLE_JOB_CODES:
            raise
        raise TransientFailure(f"job {job.job_id} failed with {exc.code}: {exc}") from exc
