"""Composition root: builds each service from settings and starts servers.

`genleak serve <name>` runs one service; `genleak run` (embedded default) starts all four
inside its own process on loopback ports and talks to them over gRPC like a deployed client.
Heavy service modules are imported only when that service is built.
"""

from __future__ import annotations

import importlib
import logging
import threading
from dataclasses import dataclass, field

from genleak.core.settings import Settings, TlsSettings
from genleak.core.store import ArtifactStore
from genleak.rpc.server import RunningServer, ServiceBinding, start_server

log = logging.getLogger(__name__)

# name -> "module:function" returning a ServiceBinding from (settings, store)
SERVICE_BUILDERS = {
    "generator": "genleak.generator.servicer:build",
    "finetuner": "genleak.finetuner.servicer:build",
    "attacker": "genleak.attacker.servicer:build",
    "controller": "genleak.controller.servicer:build",
}
WORKERS = ("generator", "finetuner", "attacker")


def build_service(name: str, settings: Settings, store: ArtifactStore, **kwargs) -> ServiceBinding:
    import genleak.zoo  # noqa: F401  (the composition root registers the `zoo:` model scheme for every service)

    module_name, func = SERVICE_BUILDERS[name].split(":")
    return getattr(importlib.import_module(module_name), func)(settings, store, **kwargs)


def serve(name: str, settings: Settings, host: str, port: int) -> RunningServer:
    store = ArtifactStore(settings.store)
    return start_server([build_service(name, settings, store)], host=host, port=port, auth_token=settings.auth_token,
                        tls=settings.tls, max_concurrent_rpcs=settings.max_concurrent_rpcs,
                        metrics_port=settings.metrics_port)


@dataclass
class EmbeddedStack:
    """All four services in this process on 127.0.0.1 with ephemeral ports."""

    settings: Settings
    servers: dict[str, RunningServer] = field(default_factory=dict)

    def start(self) -> "EmbeddedStack":
        store = ArtifactStore(self.settings.store)
        gate = threading.Semaphore(1)  # one model job at a time across the in-process workers
        for name in WORKERS:
            self.servers[name] = self._start(name, self.settings, store, gate=gate)
        addrs = {f"{n}_addr": s.address for n, s in self.servers.items()}
        # In-process loopback servers speak plaintext: the controller must not dial them with TLS.
        controller_settings = self.settings.model_copy(update={**addrs, "tls": TlsSettings(), "grpc_lb_policy": ""})
        self.servers["controller"] = self._start("controller", controller_settings, store)
        return self

    def _start(self, name: str, settings: Settings, store: ArtifactStore, **kwargs) -> RunningServer:
        # One /metrics endpoint for the four (they share GENLEAK_METRICS_PORT), a `service` label per service.
        return start_server([build_service(name, settings, store, **kwargs)], port=0, auth_token=settings.auth_token,
                            max_concurrent_rpcs=settings.max_concurrent_rpcs, metrics_port=settings.metrics_port)

    @property
    def controller_address(self) -> str:
        return self.servers["controller"].address

    def stop(self) -> None:
        for server in reversed(list(self.servers.values())):
            server.stop(grace=1.0)
        self.servers.clear()

    def __enter__(self) -> "EmbeddedStack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
