"""GetReport: a finished experiment's report, found by its job or by its run, read from the store.

An experiment job's report is its `report` artifact; a job this controller no longer holds (restarted,
or forgotten after many newer jobs) is found through the run journal, whose executions are keyed by the
same spec hash as the job id. A run name picks the run's newest execution that has a report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from genleak.controller.journal import effective_state, list_executions, list_runs
from genleak.core.errors import ArtifactNotFound, InvalidSpec, JobNotFound, NotReady
from genleak.core.jobs import JobManager, JobSnapshot, JobState
from genleak.core.store import ArtifactRef, ArtifactStore

EXPERIMENT_JOB_ID = re.compile(r"^experiment-([0-9a-f]{20})$")
RUN_NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}$")  # as ExperimentRequest.run_name
STAMP = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")  # journal.new_stamp()


@dataclass(frozen=True)
class FoundReport:
    ref: ArtifactRef
    run: str
    stamp: str
    report_json: str
    report_markdown: str


def get_report(store: ArtifactStore, jobs: JobManager, job_id: str = "", run_name: str = "",
               stamp: str = "") -> FoundReport:
    """The report of experiment job `job_id`, or of run `run_name` (its execution `stamp`, else the newest
    execution with a report). Exactly one of job_id and run_name."""
    if job_id and stamp:
        raise InvalidSpec("only with run_name (a job is one execution)", field="stamp")
    if job_id:
        uri = _report_of_job(store, jobs, job_id)
    elif run_name:
        uri = _report_of_run(store, run_name, stamp)
    else:
        raise InvalidSpec("set job_id (an experiment job) or run_name (a run's newest report)", field="job_id")
    return read_report(store, uri)


def read_report(store: ArtifactStore, uri: str) -> FoundReport:
    """The report artifact at `uri` (runs/<run>/<spec hash>/<stamp>/report): its ref and its text files."""
    ref = store.lookup(uri)
    if ref is None:
        raise ArtifactNotFound(f"no report artifact at {uri}")
    parts = uri.rstrip("/").split("/")
    return FoundReport(ref=ref, run=parts[-4], stamp=parts[-2],
                       report_json=store.open_text(uri, "report.json"),
                       report_markdown=store.open_text(uri, "report.md"))


def _report_of_job(store: ArtifactStore, jobs: JobManager, job_id: str) -> str:
    try:
        snap: JobSnapshot | None = jobs.get(job_id)
    except JobNotFound:
        snap = None
    if snap is not None:
        if snap.state is JobState.SUCCEEDED and "report" in snap.output.artifacts:
            return snap.output.artifacts["report"].uri
        why = f": {snap.error_code}: {snap.error_message}" if snap.error_code else ""
        raise NotReady(f"experiment job {job_id} is {snap.state.value.lower()}{why}; a report comes when it "
                       "succeeds")
    match = EXPERIMENT_JOB_ID.match(job_id)
    if match is None:
        raise JobNotFound(f"no experiment job {_shown(job_id)} on this controller (experiment job ids are "
                          "experiment-<20 hex digits>)")
    # The journal keys an execution by the first 16 digits of the same spec hash the job id carries.
    executions = [e for e in list_runs(store) if e.get("spec_hash") == match.group(1)[:16]]
    return _newest_report(executions, f"experiment job {job_id}",
                          JobNotFound(f"no experiment job {job_id} on this controller or in the store's run journal"))


def _report_of_run(store: ArtifactStore, run_name: str, stamp: str) -> str:
    if not RUN_NAME.match(run_name) or set(run_name) == {"."}:
        raise InvalidSpec(f"{_shown(run_name)} is not a run name (letters, digits, '.', '_', '-')", field="run_name")
    if stamp and not STAMP.match(stamp):
        raise InvalidSpec(f"{_shown(stamp)} is not an execution stamp (like 20250101T120000Z-a1b2c3, as "
                          "`genleak runs` shows it)", field="stamp")
    executions = list_executions(store, run_name)  # NOT_FOUND naming the run when it has none
    if stamp:
        executions = [e for e in executions if e["stamp"] == stamp]
        if not executions:
            raise ArtifactNotFound(f"run {run_name!r} has no execution {stamp}")
    return _newest_report(executions, f"run {run_name!r}" + (f" execution {stamp}" if stamp else ""), None)


def _newest_report(executions: list[dict], what: str, missing: Exception | None) -> str:
    """The report of the newest execution that has one; none: `missing` when there is no execution at all,
    else FAILED_PRECONDITION saying where the newest stands."""
    executions = sorted(executions, key=lambda e: e["stamp"], reverse=True)
    for entry in executions:
        if entry.get("report_uri"):
            return entry["report_uri"]
    if not executions and missing is not None:
        raise missing
    newest = executions[0]
    error = f": {str(newest['error'])[:300]}" if newest.get("error") else ""
    raise NotReady(f"{what} has no report yet: its newest execution ({newest['stamp']}) is "
                   f"{effective_state(newest)}{error}")


def _shown(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
