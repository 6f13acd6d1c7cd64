"""Client side: channels that carry the bearer token (over TLS when configured), and waiting on jobs."""

from __future__ import annotations

from typing import Callable, Iterator

import grpc

from genleak.core.errors import Cancelled, GenleakError, InvalidSpec
from genleak.core.settings import TlsSettings
from genleak.rpc.balancing import JobAffinityChannel
from genleak.rpc.security import channel_credentials
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


GRPC_LB_POLICIES = ("pick_first", "round_robin")


def channel_options(address: str, lb_policy: str = "", tls: TlsSettings | None = None) -> list[tuple[str, object]]:
    options: list[tuple[str, object]] = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]
    if lb_policy in GRPC_LB_POLICIES:
        options.append(("grpc.lb_policy_name", lb_policy))
    if tls is not None and tls.client_enabled and tls.server_name:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    return options


def open_channel(address: str, token: str = "", *, tls: TlsSettings | None = None, lb_policy: str = "") -> grpc.Channel:
    """A channel to `address` (`host:port` or `dns:///host:port`) that sends the bearer token on every call.

    With client TLS settings (`tls.ca` or `tls.client_cert`) the channel is TLS (mTLS with a client
    cert) and the token travels as call credentials; otherwise plaintext with a metadata interceptor.
    Balancing (`lb_policy`, GENLEAK_GRPC_LB_POLICY): empty = `job_affinity` for `dns:///` targets (every
    replica behind a headless Service, each job's calls to the replica that owns it; see balancing.py)
    and gRPC's pick_first otherwise; `round_robin` = gRPC's per-call round-robin (stateless calls only).
    """
    policy = lb_policy or ("job_affinity" if address.startswith("dns:") else "")
    if policy == "job_affinity":
        if not address.startswith("dns:"):
            raise InvalidSpec(f"job_affinity balancing needs a dns:/// target, not {address!r}",
                              field="GENLEAK_GRPC_LB_POLICY")

        def open_replica(replica: str, host: str) -> grpc.Channel:
            named = tls.model_copy(update={"server_name": tls.server_name or host}) if tls is not None else None
            return _open_single(replica, token, named, "pick_first")

        return JobAffinityChannel(address, open_replica)
    return _open_single(address, token, tls, policy)


def _open_single(address: str, token: str, tls: TlsSettings | None, lb_policy: str) -> grpc.Channel:
    options = channel_options(address, lb_policy, tls)
    if tls is not None and tls.client_enabled:
        return grpc.secure_channel(address, channel_credentials(tls, token), options=options)
    channel = grpc.insecure_channel(address, options=options)
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
