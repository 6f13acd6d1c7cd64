"""Load against one attacker service over gRPC (issue 8): 50 concurrent small RPCs (ScoreTexts on a
tiny model) while 10 jobs run, every call answered; jobs beyond the configured queue and calls beyond
the configured call queue get RESOURCE_EXHAUSTED at once; model work stays bounded (at most
`max_concurrent_calls` at a time) and so does memory. The figures go to the robustness summary."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from genleak.app import build_service
from genleak.core.datasets import publish_records
from genleak.core.settings import Settings, StoreSettings
from genleak.core.store import ArtifactStore
from genleak.engines.probe_model import build_tiny_model
from genleak.rpc.channels import open_channel, wait_for_job
from genleak.rpc.server import start_server
from genleak.v1 import attacker_pb2, attacker_pb2_grpc, common_pb2

N_CALLS = 50
N_JOBS = 10


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class _RssSampler:
    def __init__(self, every_s: float = 0.02):
        self.every_s, self.peak, self.start = every_s, 0.0, _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_mb())
            time.sleep(self.every_s)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("load")
    model = build_tiny_model(root / "model", arch="gpt_neox")
    store = ArtifactStore(StoreSettings(root=f"file://{root}/store", cache_dir=root / "cache"))
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()
    members = publish_records(store, [{"text": " ".join(words[i % 10:] + words[:i % 10])} for i in range(12)],
                              store.uri_for("inputs", "members"))
    nonmembers = publish_records(store, [{"text": " ".join(reversed(words[i % 10:] + words[:i % 10]))}
                                         for i in range(12)], store.uri_for("inputs", "nonmembers"))
    return {"root": root, "model": str(model), "store": store, "members": members, "nonmembers": nonmembers}


def _serve(world, gate=None, **limits):
    settings = Settings(store=world["store"].settings, **limits)
    binding = build_service("attacker", settings, world["store"], gate=gate)
    server = start_server([binding], max_concurrent_rpcs=settings.max_concurrent_rpcs)
    return server, binding.servicer


def _score_request(world, i: int) -> attacker_pb2.ScoreTextsRequest:
    request = attacker_pb2.ScoreTextsRequest(model=common_pb2.ModelRef(uri=world["model"]),
                                             texts=[f"Hello number {i}", "From: Jane Doe"])
    request.params.update({"max_tokens": 32})
    return request


def _mia_request(world, seed: int) -> attacker_pb2.StartMembershipInferenceRequest:
    request = attacker_pb2.StartMembershipInferenceRequest(
        model=common_pb2.ModelRef(uri=world["model"]),
        members=common_pb2.ArtifactRef(uri=world["members"].uri),
        nonmembers=common_pb2.ArtifactRef(uri=world["nonmembers"].uri))
    request.params.update({"n_samples": 12, "n_bootstrap": 20, "max_tokens": 32, "seed": seed, "min_words": 1})
    return request


def _burst(stub, requests, method: str = "ScoreTexts"):
    """Fire all requests at once; return (status name, seconds) per call, in order."""
    start = threading.Barrier(len(requests))

    def one(request):
        start.wait()
        began = time.perf_counter()
        try:
            getattr(stub, method)(request, timeout=300)
            return "OK", time.perf_counter() - began
        except grpc.RpcError as err:
            return err.code().name, time.perf_counter() - began

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(one, requests))


def test_50_calls_and_10_jobs_on_one_attacker_all_answered_with_bounded_work(world, robustness_tally):
    gate = threading.Semaphore(1)
    gate.acquire()  # hold the job slot: the 10 jobs stay queued until the queue bound has been checked
    server, servicer = _serve(world, gate=gate, max_queued_jobs=N_JOBS, max_concurrent_calls=2,
                              max_queued_calls=N_CALLS)
    stub = attacker_pb2_grpc.AttackerServiceStub(open_channel(server.address))
    try:
        stub.ScoreTexts(_score_request(world, -1), timeout=120)  # warm-up: imports, first model load
        # 10 concurrent job submissions: all accepted (queued) ...
        accepted = _burst(stub, [_mia_request(world, seed) for seed in range(N_JOBS)], "StartMembershipInference")
        assert [code for code, _ in accepted] == ["OK"] * N_JOBS
        # ... the same request again is the same job (idempotent), one more distinct job is refused
        again = stub.StartMembershipInference(_mia_request(world, 0), timeout=30)
        assert again.state == common_pb2.JOB_STATE_QUEUED
        with pytest.raises(grpc.RpcError) as err:
            stub.StartMembershipInference(_mia_request(world, 999), timeout=30)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "queue is full" in err.value.details()
        robustness_tally.count("load: jobs", "accepted", N_JOBS)
        robustness_tally.count("load: jobs", "RESOURCE_EXHAUSTED beyond the queue")

        jobs = [stub.StartMembershipInference(_mia_request(world, seed), timeout=30) for seed in range(N_JOBS)]
        gate.release()  # the jobs now run one at a time while 50 small calls arrive at once
        with _RssSampler() as rss:
            began = time.perf_counter()
            results = _burst(stub, [_score_request(world, i) for i in range(N_CALLS)])
            burst_s = time.perf_counter() - began
            finished = [wait_for_job(stub, job) for job in jobs]
        codes = [code for code, _ in results]
        assert codes == ["OK"] * N_CALLS, codes
        assert all(j.state == common_pb2.JOB_STATE_SUCCEEDED for j in finished)
        assert len({j.job_id for j in finished}) == N_JOBS
        assert servicer.calls.peak_running <= 2  # model work bounded whatever the concurrency
        growth = rss.peak - rss.start
        assert growth < 1500, f"RSS grew by {growth:.0f} MB under load"
        # the 11th job is accepted once the queue has drained
        assert stub.StartMembershipInference(_mia_request(world, 999), timeout=30).job_id

        latencies = np.array([s for _, s in results]) * 1000
        robustness_tally.count("load: 50 concurrent ScoreTexts", "OK", N_CALLS)
        robustness_tally.count("load: jobs", "SUCCEEDED", N_JOBS)
        robustness_tally.figure(
            "load: 50 concurrent ScoreTexts + 10 MIA jobs, one attacker",
            f"latency p50 {np.percentile(latencies, 50):.0f} ms, p99 {np.percentile(latencies, 99):.0f} ms, "
            f"max {latencies.max():.0f} ms; burst {burst_s:.1f} s; model calls at once <= "
            f"{servicer.calls.peak_running} (waiting peak {servicer.calls.peak_admitted - servicer.calls.peak_running}); "
            f"process RSS {rss.start:.0f} -> peak {rss.peak:.0f} MB (+{growth:.0f} MB); cpus {os.cpu_count()}")
    finally:
        server.stop(grace=1.0)


def test_calls_beyond_the_queue_get_resource_exhausted_and_the_server_stays_healthy(world, robustness_tally):
    server, servicer = _serve(world, max_concurrent_calls=1, max_queued_calls=4)
    channel = open_channel(server.address)
    stub = attacker_pb2_grpc.AttackerServiceStub(channel)
    health = health_pb2_grpc.HealthStub(channel)
    try:
        stub.ScoreTexts(_score_request(world, -1), timeout=120)
        health_s: list[float] = []
        probe = threading.Thread(target=lambda: health_s.extend(_health_latency(health) for _ in range(5)))
        probe.start()
        results = _burst(stub, [_score_request(world, i) for i in range(N_CALLS)])
        probe.join()
        codes = [code for code, _ in results]
        assert set(codes) <= {"OK", "RESOURCE_EXHAUSTED"}, codes  # every call answered, none lost
        assert codes.count("OK") >= 5 and codes.count("RESOURCE_EXHAUSTED") >= 1
        assert servicer.calls.peak_running == 1 and servicer.calls.peak_admitted <= 5
        rejected_ms = [s * 1000 for code, s in results if code == "RESOURCE_EXHAUSTED"]
        assert max(health_s) < 5.0  # health checks are answered during the burst
        stub.ScoreTexts(_score_request(world, 1000), timeout=60)  # and real work afterwards
        robustness_tally.count("load: backpressure burst (queue 1+4)", "OK", codes.count("OK"))
        robustness_tally.count("load: backpressure burst (queue 1+4)", "RESOURCE_EXHAUSTED",
                               codes.count("RESOURCE_EXHAUSTED"))
        robustness_tally.figure(
            "load: backpressure burst of 50 with 1 running + 4 queued",
            f"{codes.count('OK')} OK, {codes.count('RESOURCE_EXHAUSTED')} RESOURCE_EXHAUSTED "
            f"(refused in p50 {np.percentile(rejected_ms, 50):.0f} ms); health check max {max(health_s) * 1000:.0f} ms")
    finally:
        server.stop(grace=1.0)


def _health_latency(health) -> float:
    began = time.perf_counter()
    reply = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    return time.perf_counter() - began
