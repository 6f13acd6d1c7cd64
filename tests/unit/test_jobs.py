import threading
import time

import pytest

from genleak.core.errors import InvalidSpec, JobNotFound, ResourceExhausted
from genleak.core.jobs import JobManager, JobOutput, JobState
from genleak.core.specs import Spec


class _Req(Spec):
    value: int


def _wait_terminal(jobs, job_id, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        snap = jobs.get(job_id)
        if snap.state.terminal:
            return snap
        time.sleep(0.01)
    raise AssertionError("job did not finish")


def test_same_request_returns_same_job_and_runs_once():
    jobs = JobManager()
    calls = []
    gate = threading.Event()

    def work(reporter):
        calls.append(1)
        gate.wait(2)
        return JobOutput(result={"ok": True})

    a = jobs.submit("k", _Req(value=1), work)
    b = jobs.submit("k", _Req(value=1), work)
    assert a.job_id == b.job_id
    gate.set()
    snap = _wait_terminal(jobs, a.job_id)
    assert snap.state is JobState.SUCCEEDED and snap.output.result == {"ok": True}
    assert jobs.submit("k", _Req(value=1), work).state is JobState.SUCCEEDED
    assert len(calls) == 1


def test_watch_streams_progress_until_terminal():
    jobs = JobManager()

    def work(reporter):
        for i in range(3):
            reporter.update("step", i + 1, 3, f"item {i}")
            time.sleep(0.02)
        return JobOutput()

    snap = jobs.submit("k", _Req(value=2), work)
    seen = list(jobs.watch(snap.job_id, poll_s=0.05))
    assert seen[-1].state is JobState.SUCCEEDED
    assert any(s.done == 3 and s.total == 3 for s in seen)


def test_domain_error_becomes_failed_with_code():
    jobs = JobManager()

    def work(reporter):
        raise InvalidSpec("bad", field="x.y")

    snap = _wait_terminal(jobs, jobs.submit("k", _Req(value=3), work).job_id)
    assert snap.state is JobState.FAILED and snap.error_code == "INVALID_ARGUMENT" and "x.y" in snap.error_message


def test_unexpected_error_is_internal_without_details():
    jobs = JobManager()

    def work(reporter):
        raise RuntimeError("secret path /etc/shadow")

    snap = _wait_terminal(jobs, jobs.submit("k", _Req(value=4), work).job_id)
    assert snap.error_code == "INTERNAL" and "shadow" not in snap.error_message


def test_cancel_running_job():
    jobs = JobManager()
    started = threading.Event()

    def work(reporter):
        started.set()
        while True:
            reporter.update("loop", 0, 1)
            time.sleep(0.01)

    snap = jobs.submit("k", _Req(value=5), work)
    started.wait(2)
    jobs.cancel(snap.job_id)
    assert _wait_terminal(jobs, snap.job_id).state is JobState.CANCELLED


def test_queue_limit_and_unknown_job():
    jobs = JobManager(workers=1, max_queued=1)
    gate = threading.Event()
    jobs.submit("k", _Req(value=6), lambda r: (gate.wait(2), JobOutput())[1])
    with pytest.raises(ResourceExhausted):
        jobs.submit("k", _Req(value=7), lambda r: JobOutput())
    gate.set()
    with pytest.raises(JobNotFound):
        jobs.get("nope")


def test_a_full_local_disk_fails_the_job_as_resource_exhausted():
    import errno

    from genleak.core.jobs import JobManager

    def fill_disk(reporter):
        raise OSError(errno.ENOSPC, "No space left on device")

    jobs = JobManager(workers=1)
    try:
        done = _wait_terminal(jobs, jobs.submit("t", _Req(value=1), fill_disk).job_id)
    finally:
        jobs.shutdown()
    assert done.error_code == "RESOURCE_EXHAUSTED" and "no space left on device" in done.error_message
