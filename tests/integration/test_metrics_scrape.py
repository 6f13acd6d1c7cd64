"""Prometheus metrics scraped over HTTP during a tiny run (issue 16, item 7): GENLEAK_METRICS_PORT starts
/metrics beside the gRPC servers; the embedded stack's four services share it with a `service` label each,
and a generation job's counters move while it runs (queued, running, then succeeded with its tokens)."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from genleak.app import EmbeddedStack, serve
from genleak.core.datasets import publish_records
from genleak.core.settings import Settings
from genleak.core.store import ArtifactStore
from genleak.engines.probe_model import build_tiny_model
from genleak.rpc.channels import open_channel, wait_for_job
from genleak.v1 import common_pb2, generator_pb2, generator_pb2_grpc

TOKEN = "metrics-token"
SERVICES = ("generator", "finetuner", "attacker", "controller")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _scrape(port: int) -> dict[tuple[str, tuple], float]:
    """(sample name, sorted labels) -> value of every genleak_* sample the endpoint serves now."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) if family.name.startswith("genleak_")
            for s in family.samples}


def _get(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _settings(root, port: int) -> Settings:
    return Settings.from_env({"GENLEAK_STORE": f"file://{root}/store", "GENLEAK_CACHE_DIR": str(root / "cache"),
                              "GENLEAK_AUTH_TOKEN": TOKEN, "GENLEAK_METRICS_PORT": str(port)})


def test_embedded_stack_serves_one_endpoint_and_a_generation_job_moves_its_counters(tmp_path):
    port = _free_port()
    settings = _settings(tmp_path, port)
    store = ArtifactStore(settings.store)
    model = build_tiny_model(tmp_path / "model", arch="gpt_neox")
    prompts = publish_records(store, [{"prompt": f"From: Jane Doe {i}", "continuation": " hello"} for i in range(8)],
                              store.uri_for("inputs", "prompts"))
    with EmbeddedStack(settings) as stack:
        assert {s.metrics_port for s in stack.servers.values()} == {port}
        before = _scrape(port)
        for service in SERVICES:  # every service's gauges exist before its first job
            assert ("genleak_jobs_running", (("service", service),)) in before, service

        scrapes: list[dict] = []
        done = threading.Event()

        def scrape_until_done():
            while not done.is_set():
                scrapes.append(_scrape(port))
                time.sleep(0.02)

        poller = threading.Thread(target=scrape_until_done, daemon=True)
        poller.start()
        stub = generator_pb2_grpc.GeneratorServiceStub(open_channel(stack.servers["generator"].address, TOKEN))
        request = generator_pb2.StartGenerationRequest(model=common_pb2.ModelRef(uri=str(model)),
                                                       dataset=common_pb2.ArtifactRef(uri=prompts.uri))
        request.params.update({"task": "continuation", "config": {"max_new_tokens": 24, "seed": 3}})
        job = wait_for_job(stub, stub.StartGeneration(request))
        done.set()
        poller.join(10)
        assert job.state == common_pb2.JOB_STATE_SUCCEEDED
        after = _scrape(port)

    # Counters are the process's: compare with the scrape before the job (other tests may have run jobs).
    def moved(samples, name, **labels):
        return _get(samples, name, **labels) - _get(before, name, **labels)

    def jobs(samples, state):
        return moved(samples, "genleak_jobs_total", service="generator", kind="generation", state=state)

    # During the run: a scrape saw the job running and not yet succeeded.
    during = [s for s in scrapes if jobs(s, "running") == 1 and jobs(s, "succeeded") == 0]
    assert during, f"no scrape caught the job running ({len(scrapes)} scrapes)"
    assert all(moved(s, "genleak_jobs_running", service="generator") == 1 for s in during)
    # After it: succeeded, the duration observed, the tokens it generated counted; no other service moved.
    assert [jobs(after, state) for state in ("queued", "running", "succeeded", "failed", "cancelled")] == [
        1, 1, 1, 0, 0]
    assert moved(after, "genleak_jobs_running", service="generator") == 0
    assert moved(after, "genleak_jobs_queued", service="generator") == 0
    assert moved(after, "genleak_job_duration_seconds_count", service="generator", kind="generation",
                 state="succeeded") == 1
    assert moved(after, "genleak_tokens_total", service="generator", kind="generation") > 0
    assert _get(after, "genleak_job_tokens_per_second", service="generator", kind="generation") > 0
    others = {k for k, v in after.items() if k[0] == "genleak_jobs_total" and dict(k[1])["service"] != "generator"
              and v != before.get(k, 0.0)}
    assert not others, others
    with pytest.raises(OSError):  # the stack stopped: so did its endpoint
        _scrape(port)


def test_serve_exposes_its_own_port_and_a_taken_port_is_a_clear_error(tmp_path):
    port = _free_port()
    server = serve("generator", _settings(tmp_path, port), "127.0.0.1", 0)
    try:
        assert server.metrics_port == port != server.port
        samples = _scrape(port)
        assert ("genleak_jobs_queued", (("service", "generator"),)) in samples
        with pytest.raises(OSError, match="GENLEAK_METRICS_PORT"):
            # Another process's port (here: a bound socket) is refused before the gRPC server starts.
            with socket.socket() as taken:
                taken.bind(("127.0.0.1", 0))
                taken.listen()
                serve("attacker", _settings(tmp_path, taken.getsockname()[1]), "127.0.0.1", 0)
    finally:
        server.stop(grace=0.5)
