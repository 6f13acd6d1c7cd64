"""One server bootstrap for every service: interceptors, health, reflection, graceful stop."""

from __future__ import annotations

import logging
from concurrent import futures
from dataclasses import dataclass
from typing import Any, Callable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from genleak.core.jobs import JobManager
from genleak.core.metrics import start_metrics_server
from genleak.core.settings import TlsSettings
from genleak.rpc.interceptors import AuthInterceptor, ErrorInterceptor
from genleak.rpc.security import server_credentials

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class ServiceBinding:
    """A servicer, its generated `add_*_to_server` function and its full service name."""

    servicer: Any
    add_to_server: Callable[[Any, grpc.Server], None]
    full_name: str
    on_stop: Callable[[], None] | None = None  # frees what the service holds (engines, job threads)


class RunningServer:
    def __init__(self, server: grpc.Server, port: int, health_servicer: health.HealthServicer, names: list[str],
                 on_stop: list[Callable[[], None]] | None = None):
        self._on_stop = on_stop or []
        self.server = server
        self.port = port
        self._health = health_servicer
        self._names = names
        self.metrics_port: int | None = None  # where /metrics is served, when it is

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def set_serving(self, serving: bool = True) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in [*self._names, ""]:
            self._health.set(name, status)

    def stop(self, grace: float = 5.0) -> None:
        self.set_serving(False)
        self.server.stop(grace).wait()
        for hook in self._on_stop:
            try:
                hook()
            except Exception:  # noqa: BLE001 - shutting down: log and go on
                log.exception("error while stopping a service")

    def wait(self) -> None:
        self.server.wait_for_termination()


def start_server(bindings: list[ServiceBinding], host: str = "127.0.0.1", port: int = 0,
                 auth_token: str = "", max_workers: int = 32, tls: TlsSettings | None = None,
                 max_concurrent_rpcs: int | None = None, metrics_port: int | None = None) -> RunningServer:
    """Start a gRPC server (port 0 = any free port); health reports SERVING once started.

    `max_concurrent_rpcs` bounds the RPCs in flight (running or waiting for a worker thread): gRPC
    answers RESOURCE_EXHAUSTED beyond it, so queued requests cannot grow memory without limit.

    With `tls.cert`/`tls.key` the port speaks TLS only (plus `tls.client_ca`: mTLS, client certs required).

    `metrics_port` (GENLEAK_METRICS_PORT) serves Prometheus metrics over plain HTTP on `host`; servers of one
    process given the same port share one endpoint, each service's jobs under its own `service` label.
    """
    credentials = server_credentials(tls) if tls is not None and tls.server_enabled else None  # fail before binding
    interceptors: list[grpc.ServerInterceptor] = [ErrorInterceptor()]
    if auth_token:
        interceptors.insert(0, AuthInterceptor(auth_token))
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="genleak-rpc"),
        interceptors=interceptors,
        maximum_concurrent_rpcs=max_concurrent_rpcs,
        options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                 ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)],
    )
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [b.full_name for b in bindings]
    for binding in bindings:
        binding.add_to_server(binding.servicer, server)
        jobs = getattr(binding.servicer, "jobs", None)
        if isinstance(jobs, JobManager) and not jobs.metrics.service:
            jobs.metrics.service = service_label(binding.full_name)
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    address = f"{host}:{port}"
    bound = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
    if bound == 0:
        raise OSError(f"could not bind {host}:{port}")
    on_stop = [b.on_stop for b in bindings if b.on_stop]
    metrics_bound = None
    if metrics_port is not None:
        try:
            metrics_bound, stop_metrics = start_metrics_server(metrics_port, host)
        except OSError as exc:
            server.stop(None)
            raise OSError(f"could not serve metrics on {host}:{metrics_port} (GENLEAK_METRICS_PORT): {exc}") from exc
        on_stop.append(stop_metrics)
        log.info("serving Prometheus metrics on http://%s:%d/metrics", host, metrics_bound)
    server.start()
    running = RunningServer(server, bound, health_servicer, names, on_stop)
    running.metrics_port = metrics_bound
    running.set_serving(True)
    mode = ("mTLS" if tls.client_ca else "TLS") if credentials else "plaintext"
    log.info("serving %s on %s:%d (%s%s)", ", ".join(names), host, bound, mode, ", token auth" if auth_token else "")
    return running


def service_label(full_name: str) -> str:
    """The `service` label of a gRPC service's metrics: genleak.v1.GeneratorService -> generator."""
    return full_name.rsplit(".", 1)[-1].removesuffix("Service").lower()
