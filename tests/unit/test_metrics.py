"""Prometheus metrics (genleak.core.metrics): JobManager's state changes, tokens, retries, the endpoint."""

from __future__ import annotations

import itertools
import logging
import threading
import time
import urllib.request

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from genleak.core.errors import InvalidSpec
from genleak.core.jobs import JobManager, JobOutput, JobState
from genleak.core.metrics import count_retry, start_metrics_server, token_count, tokens_per_second
from genleak.core.retry import RetryBudgetSpent, RetryPolicy, TransientFailure, call_with_retry
from genleak.core.settings import Settings
from genleak.core.specs import Spec
from genleak.rpc.server import service_label

_names = itertools.count()


class _Req(Spec):
    value: int


def _service() -> str:
    """A service label of its own per test: the registry is the process's."""
    return f"test-svc-{next(_names)}"


def _value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _jobs(service: str, kind: str, state: str) -> float:
    return _value("genleak_jobs_total", service=service, kind=kind, state=state)


def _wait(jobs: JobManager, job_id: str, state: JobState | None = None, timeout: float = 5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        snap = jobs.get(job_id)
        if (snap.state is state) if state else snap.state.terminal:
            return snap
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} did not reach {state or 'an end'}")


def test_job_states_move_the_counters_gauges_and_duration():
    service = _service()
    jobs = JobManager(workers=1, service=service)
    release = threading.Event()
    blocker = jobs.submit("slow", _Req(value=1), lambda r: (release.wait(5), JobOutput())[1])
    _wait(jobs, blocker.job_id, JobState.RUNNING)
    waiting = jobs.submit("gen", _Req(value=2), lambda r: JobOutput(result={"generated_tokens_approx": 40,
                                                                             "compute": {"tokens_per_second": 12.5}}))
    assert _value("genleak_jobs_running", service=service) == 1
    assert _value("genleak_jobs_queued", service=service) == 1
    assert (_jobs(service, "slow", "queued"), _jobs(service, "slow", "running")) == (1, 1)
    assert (_jobs(service, "gen", "queued"), _jobs(service, "gen", "running")) == (1, 0)
    release.set()
    _wait(jobs, blocker.job_id)
    _wait(jobs, waiting.job_id)
    assert (_jobs(service, "gen", "running"), _jobs(service, "gen", "succeeded")) == (1, 1)
    assert _value("genleak_jobs_running", service=service) == 0 and _value("genleak_jobs_queued", service=service) == 0
    assert _value("genleak_job_duration_seconds_count", service=service, kind="slow", state="succeeded") == 1
    assert _value("genleak_job_duration_seconds_sum", service=service, kind="slow", state="succeeded") > 0
    assert _value("genleak_tokens_total", service=service, kind="gen") == 40
    assert _value("genleak_job_tokens_per_second", service=service, kind="gen") == 12.5
    # The same request again returns the succeeded job: nothing new is counted.
    jobs.submit("gen", _Req(value=2), lambda r: JobOutput())
    assert _jobs(service, "gen", "queued") == 1
    jobs.shutdown()


def test_failed_cancelled_and_cached_jobs():
    service = _service()
    jobs = JobManager(workers=1, service=service)

    def fail(reporter):
        raise InvalidSpec("bad")

    failed = jobs.submit("k", _Req(value=1), fail)
    _wait(jobs, failed.job_id)
    assert _jobs(service, "k", "failed") == 1
    assert _value("genleak_job_duration_seconds_count", service=service, kind="k", state="failed") == 1

    release = threading.Event()
    running = jobs.submit("k", _Req(value=2), lambda r: (release.wait(5), r.check(), JobOutput())[2])
    _wait(jobs, running.job_id, JobState.RUNNING)
    queued = jobs.submit("k", _Req(value=3), lambda r: JobOutput())
    jobs.cancel(queued.job_id)  # cancelled before it ran: counted, no duration
    jobs.cancel(running.job_id)
    release.set()
    _wait(jobs, running.job_id)
    assert _jobs(service, "k", "cancelled") == 2
    assert _value("genleak_job_duration_seconds_count", service=service, kind="k", state="cancelled") == 1
    assert _value("genleak_jobs_running", service=service) == 0 and _value("genleak_jobs_queued", service=service) == 0

    cached = jobs.submit("k", _Req(value=4), lambda r: JobOutput(result={"tokens_scored": 99}, cached=True))
    _wait(jobs, cached.job_id)
    assert _value("genleak_jobs_cached_total", service=service, kind="k") == 1
    assert _value("genleak_tokens_total", service=service, kind="k") == 0, "a cached result computed nothing now"
    # A failed job resubmitted runs again and is counted again.
    again = jobs.submit("k", _Req(value=1), lambda r: JobOutput())
    _wait(jobs, again.job_id)
    assert _jobs(service, "k", "queued") == 5 and _jobs(service, "k", "succeeded") == 2
    jobs.shutdown()


@pytest.mark.parametrize("result, tokens, rate", [
    ({"generated_tokens_approx": 12, "tokens_per_second": 3.0, "compute": {"tokens_per_second": 3.0}}, 12, 3.0),
    ({"tokens_scored": 500, "tokens_per_second": 80.0}, 500, 80.0),
    ({"summary": {"useful_tokens": 1024}, "compute": {"tokens_per_second": 55.5}}, 1024, 55.5),
    ({"summary": {"useful_tokens": 0}, "compute": {"tokens_per_second": None}}, 0, None),
    ({"totals": {"queries": 3}, "compute": None}, None, None),
    ({}, None, None),
])
def test_token_counts_and_rates_from_job_results(result, tokens, rate):
    assert token_count(result) == tokens and tokens_per_second(result) == rate


def test_store_retries_are_counted_by_operation(caplog):
    before = _value("genleak_retries_total", operation="s3_upload")
    attempts = []

    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise TransientFailure("connection refused")
        return "ok"

    policy = RetryPolicy(budget_seconds=5, initial_delay_seconds=0.001, max_delay_seconds=0.001)
    with caplog.at_level(logging.ERROR):
        assert call_with_retry(flaky, policy, what="S3 upload of s3://bucket/x/y", log=logging.getLogger("t")) == "ok"
    assert _value("genleak_retries_total", operation="s3_upload") == before + 2
    with pytest.raises(RetryBudgetSpent):
        call_with_retry(lambda: (_ for _ in ()).throw(TransientFailure("down")), RetryPolicy(budget_seconds=0),
                        what="S3 stat of s3://b/k", log=logging.getLogger("t"))
    count_retry("remote job")
    assert _value("genleak_retries_total", operation="remote_job") >= 1


def test_service_labels_from_grpc_names():
    assert [service_label(f"genleak.v1.{n}Service") for n in ("Generator", "Finetuner", "Attacker", "Controller")] == [
        "generator", "finetuner", "attacker", "controller"]


def test_metrics_port_setting():
    assert Settings().metrics_port is None and Settings.from_env({"GENLEAK_METRICS_PORT": ""}).metrics_port is None
    assert Settings.from_env({"GENLEAK_METRICS_PORT": "9464"}).metrics_port == 9464
    for bad in ("0", "65536", "metrics"):
        with pytest.raises(InvalidSpec, match="GENLEAK_METRICS_PORT"):
            Settings.from_env({"GENLEAK_METRICS_PORT": bad})


def _scrape(port: int) -> dict[str, dict]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_endpoint_is_shared_by_the_servers_of_a_process_and_stops_with_the_last():
    service = _service()
    JobManager(service=service).shutdown()
    port, stop_a = start_metrics_server(0, "127.0.0.1")
    same_port, stop_b = start_metrics_server(port, "127.0.0.1")
    assert same_port == port
    families = _scrape(port)
    assert {"genleak_jobs", "genleak_jobs_queued", "genleak_jobs_running", "genleak_job_duration_seconds",
            "genleak_retries"} <= set(families)
    assert any(s.labels == {"service": service} for s in families["genleak_jobs_queued"].samples)
    stop_a()
    stop_a()  # twice is once
    assert "genleak_jobs" in _scrape(port), "still served while another server uses it"
    stop_b()
    with pytest.raises(OSError):
        _scrape(port)
