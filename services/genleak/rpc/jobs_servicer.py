"""GetJob / WatchJob / CancelJob / ListJobs, shared by every service's servicer."""

from __future__ import annotations

import math

import grpc

from genleak.core.errors import InvalidSpec
from genleak.core.jobs import JobManager, JobSnapshot, JobState
from genleak.rpc.convert import STATE_NAMES, job_to_proto
from genleak.v1 import common_pb2

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


class JobRpcMixin:
    jobs: JobManager
    # The Job.kind values this service's jobs carry: a ListJobs `kind` filter outside them is INVALID_ARGUMENT
    # (empty: any kind is accepted and simply matches nothing).
    job_kinds: tuple[str, ...] = ()

    def GetJob(self, request, context: grpc.ServicerContext):
        return job_to_proto(self.jobs.get(request.job_id))

    def WatchJob(self, request, context: grpc.ServicerContext):
        for snap in self.jobs.watch(request.job_id, alive=context.is_active):
            yield job_to_proto(snap)

    def CancelJob(self, request, context: grpc.ServicerContext):
        return job_to_proto(self.jobs.cancel(request.job_id))

    def ListJobs(self, request: common_pb2.ListJobsRequest, context: grpc.ServicerContext):
        """The jobs this server holds, newest first: filtered by kind and states, one page at a time."""
        if request.kind and self.job_kinds and request.kind not in self.job_kinds:
            raise InvalidSpec(f"{_shown(request.kind)} is not a job kind of this service; valid: "
                              f"{', '.join(self.job_kinds)} (or empty: every kind)", field="kind")
        states = frozenset(_state(value) for value in request.states)
        page_size = request.page_size or DEFAULT_PAGE_SIZE
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidSpec(f"must be 1 to {MAX_PAGE_SIZE} (or 0: {DEFAULT_PAGE_SIZE}), not {page_size}",
                              field="page_size")
        snaps = self.jobs.list(request.kind, states)
        if request.page_token:
            after = _position(request.page_token)
            snaps = [s for s in snaps if _key(s) < after]
        page = snaps[:page_size]
        token = page_token(page[-1]) if len(snaps) > page_size else ""
        return common_pb2.ListJobsResponse(jobs=[job_to_proto(s) for s in page], next_page_token=token)


def page_token(snap: JobSnapshot) -> str:
    """The token of the page after `snap`: its position in the newest-first order (creation time, job id).
    A position rather than an index, so jobs started between two calls do not shift the pages."""
    return f"{snap.created_at!r}/{snap.job_id}"


def _key(snap: JobSnapshot) -> tuple[float, str]:
    return snap.created_at, snap.job_id


def _position(token: str) -> tuple[float, str]:
    created, _, job_id = token.partition("/")
    try:
        created_at = float(created)
    except ValueError:
        created_at = math.nan
    if not job_id or not math.isfinite(created_at):
        raise InvalidSpec("not a token from ListJobsResponse.next_page_token (leave it empty for the first page)",
                          field="page_token")
    return created_at, job_id


def _state(value: int) -> JobState:
    name = STATE_NAMES.get(value)
    if name is None:
        shown = common_pb2.JobState.Name(value) if value in common_pb2.JobState.values() else str(value)
        valid = ", ".join(f"JOB_STATE_{s}" for s in STATE_NAMES.values())
        raise InvalidSpec(f"{shown} is not a job state to filter by; valid: {valid}", field="states")
    return JobState(name)


def _shown(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
