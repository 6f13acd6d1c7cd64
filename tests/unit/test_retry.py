"""The one retry policy (genleak.core.retry) and the job resubmission built on it (genleak.rpc.retry):
the time budget, the jitter rule, what is retried, what each retry logs, what a spent budget says."""

from __future__ import annotations

import logging
import time
from types import SimpleNamespace

import grpc
import pytest

from genleak.core.retry import RetryBudgetSpent, RetryPolicy, TransientFailure, call_with_retry
from genleak.rpc.channels import RemoteJobError
from genleak.rpc.retry import JOB_RETRY, ServiceUnavailable, run_job
from genleak.v1 import common_pb2

log = logging.getLogger("tests.retry")
FAST = RetryPolicy(budget_seconds=5, initial_delay_seconds=0.001, max_delay_seconds=0.01)


class Failing:
    """An operation raising the given exceptions in turn, then answering `result`."""

    def __init__(self, *failures: BaseException, result="ok"):
        self.failures = list(failures)
        self.result = result
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.result() if callable(self.result) else self.result


def test_transient_failures_are_retried_and_others_propagate_at_once():
    op = Failing(TransientFailure("down"), TransientFailure("down"))
    assert call_with_retry(op, FAST, what="op", log=log) == "ok" and op.calls == 3
    op = Failing(ValueError("bad input"), TransientFailure("down"))
    with pytest.raises(ValueError, match="bad input"):
        call_with_retry(op, FAST, what="op", log=log)
    assert op.calls == 1


def test_the_budget_is_time_and_the_last_attempt_lands_on_the_deadline():
    policy = RetryPolicy(budget_seconds=0.4, initial_delay_seconds=0.05, max_delay_seconds=0.3)
    op = Failing(*[TransientFailure(f"down {i}") for i in range(1000)])
    started = time.monotonic()
    with pytest.raises(RetryBudgetSpent) as info:
        call_with_retry(op, policy, what="op", log=log)
    took = time.monotonic() - started
    assert 0.4 <= took < 0.6
    spent = info.value
    assert spent.attempts == op.calls >= 3 and spent.reason == f"down {op.calls - 1}"
    assert spent.budget_seconds == 0.4 and 0.4 <= spent.elapsed_seconds < 0.6


def test_a_zero_budget_tries_once():
    op = Failing(*[TransientFailure("down")] * 3)
    with pytest.raises(RetryBudgetSpent) as info:
        call_with_retry(op, RetryPolicy(budget_seconds=0), what="op", log=log)
    assert op.calls == 1 and info.value.attempts == 1


def test_each_retry_is_logged_on_the_callers_logger(caplog):
    caplog.set_level(logging.WARNING)
    call_with_retry(Failing(TransientFailure("refused")), FAST, what="S3 upload of s3://b/k", log=log)
    [record] = caplog.records
    assert record.name == "tests.retry"
    assert record.getMessage().startswith("S3 upload of s3://b/k failed (refused); retry 1 in 0.00")


@pytest.mark.parametrize("jitter", [0.0, 0.5, 1.0])
def test_one_jitter_rule_the_random_fraction_of_an_exponential_capped_delay(jitter):
    wait = RetryPolicy(initial_delay_seconds=0.5, max_delay_seconds=10, multiplier=2, jitter=jitter).wait()
    for retry, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (4, 8.0), (5, 10.0), (50, 10.0)]:
        delays = [wait(SimpleNamespace(attempt_number=retry + 1)) for _ in range(200)]
        assert all(ceiling * (1 - jitter) - 1e-9 <= d <= ceiling + 1e-9 for d in delays)
        assert (len(set(delays)) == 1) == (jitter == 0)


def test_nonsense_policies_are_refused():
    for bad in ({"budget_seconds": -1}, {"multiplier": 0.5}, {"jitter": 1.5}):
        with pytest.raises(ValueError):
            RetryPolicy(**bad)


# ---- run_job: which outcomes resubmit the job

class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode):
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return f"{self._code.name} details"


def _job(state, code: str = "") -> common_pb2.Job:
    job = common_pb2.Job(job_id="j1", state=state)
    job.error.code = code
    return job


SUCCEEDED = common_pb2.JOB_STATE_SUCCEEDED
FAILED = common_pb2.JOB_STATE_FAILED


@pytest.mark.parametrize("failure", [FakeRpcError(grpc.StatusCode.UNAVAILABLE),
                                     FakeRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED)], ids=lambda e: e.code().name)
def test_a_start_refused_for_now_is_submitted_again(failure):
    start = Failing(failure, result=lambda: _job(SUCCEEDED))
    assert run_job(start, stub=None, policy=FAST).state == SUCCEEDED and start.calls == 2


def test_a_job_failed_unavailable_is_submitted_again(caplog):
    caplog.set_level(logging.WARNING)
    answers = iter([_job(FAILED, "UNAVAILABLE"), _job(SUCCEEDED)])
    start = Failing(result=lambda: next(answers))
    assert run_job(start, stub=None, policy=FAST).state == SUCCEEDED and start.calls == 2
    [message] = [r.getMessage() for r in caplog.records if r.name == "genleak.rpc.retry"]
    assert "job j1 failed with UNAVAILABLE" in message


def test_bad_requests_and_failed_computations_are_not_retried():
    start = Failing(FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT))
    with pytest.raises(grpc.RpcError):
        run_job(start, stub=None, policy=FAST)
    assert start.calls == 1
    start = Failing(result=lambda: _job(FAILED, "INTERNAL"))
    with pytest.raises(RemoteJobError):
        run_job(start, stub=None, policy=FAST)
    assert start.calls == 1


def test_a_service_that_never_answers_is_unavailable_after_the_budget():
    start = Failing(*[FakeRpcError(grpc.StatusCode.UNAVAILABLE)] * 1000)
    with pytest.raises(ServiceUnavailable, match="still unavailable after .* retries: start: UNAVAILABLE"):
        run_job(start, stub=None, policy=RetryPolicy(budget_seconds=0.2, initial_delay_seconds=0.01))
    assert start.calls >= 3


def test_the_default_job_budget_is_five_minutes():
    assert JOB_RETRY.budget_seconds == 300
