"""Client side: channels that carry the bearer token, and waiting on jobs with progress."""

from __future__ import annotations

from typing import Callable, Iterator

import grpc

from genleak.core.errors import Cancelled, GenleakError
from genleak.v1 import common_pb2

TERMINAL = (common_pb2.JOB_STATE_SUCCEEDED, common_pb2.JOB_STATE_FAILED, common_pb2.JOB_STATE_CANCELLED)


class _BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    def __init__(self, token: str):
        self._metadata = ("authorization", f"Bearer {token}")

    def _add(self, details):
        metadata = list(details.metadata or []) + [self._metadata]
        return details._replace(metadata=metadata) if hasattr(details, "_replace") else _Details(details, metadata)

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self._add(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._add(client_call_details), request)


class _Details(grpc.ClientCallDetails):
    def __init__(self, base, metadata):
        self.method = base.method
        self.timeout = base.timeout
        self.metadata = metadata
        self.credentials = base.credentials
        self.wait_for_ready = getattr(base, "wait_for_ready", None)
        self.compression = getattr(base, "compression", None)


def open_channel(address: str, token: str = "") -> grpc.Channel:
    channel = grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)])
    if token:
        channel = grpc.intercept_channel(channel, _BearerToken(token))
    return channel


class RemoteJobError(GenleakError):
    """A job on another service ended FAILED/CANCELLED; carries that service's status code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def wait_for_job(stub, job: common_pb2.Job, on_update: Callable[[common_pb2.Job], None] | None = None) -> common_pb2.Job:
    """Follow WatchJob until the job is terminal; raise RemoteJobError unless it succeeded."""
    last = job
    if job.state not in TERMINAL:
        try:
            for last in _watch(stub, job.job_id):
                if on_update:
                    on_update(last)
        except Cancelled:
            # The caller was cancelled (e.g. the experiment): cancel the remote job too.
            stub.CancelJob(common_pb2.CancelJobRequest(job_id=job.job_id))
            raise
    if last.state == common_pb2.JOB_STATE_SUCCEEDED:
        return last
    code = last.error.code or ("CANCELLED" if last.state == common_pb2.JOB_STATE_CANCELLED else "ABORTED")
    raise RemoteJobError(code, f"{last.kind} job {last.job_id} failed: {last.error.message or code}")


def _watch(stub, job_id: str) -> Iterator[common_pb2.Job]:
    yield from stub.WatchJob(common_pb2.WatchJobRequest(job_id=job_id))
