"""Controller core: validate a spec, run it through the services, publish the report.

The spec's scenario (genleak.controller.scenarios) builds the report, draws its figure and names the
report keys that the job's result keeps.
"""

from __future__ import annotations

import contextlib
import platform
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import grpc
from pydantic import Field

import genleak
from genleak.controller.clients import ServiceClients
from genleak.controller.journal import Execution, RunJournal, new_stamp
from genleak.controller.references import refuse_relative_datasets
from genleak.controller.runner import LAB_STAGE, ExperimentRunner, LabProvider, experiment_plan
from genleak.controller.scenarios import Scenario, get_scenario
from genleak.controller.spec import ExperimentSpec, load_spec_text
from genleak.core.platform_info import describe_platform
from genleak.core.jobs import JobOutput
from genleak.core.progress import ForwardingReporter, Reporter
from genleak.core.errors import Cancelled, InvalidSpec
from genleak.core.specs import Spec, parse_spec
from genleak.core.store import ArtifactStore
from genleak.report import combine_target_reports, leaked_values, render_report_files
from genleak.rpc.channels import RemoteJobError


class ExperimentRequest(Spec):
    """The identity of an experiment job: the validated spec and the run name."""

    spec: ExperimentSpec
    run_name: str = Field(pattern=r"^[A-Za-z0-9._-]+$")


class ControllerCore:
    def __init__(self, store: ArtifactStore, clients: ServiceClients, lab_provider: LabProvider | None = None):
        self.store = store
        self._runner = ExperimentRunner(clients, lab_provider, store)

    @staticmethod
    def parse_request(spec_yaml: str, run_name: str = "") -> ExperimentRequest:
        try:
            spec = load_spec_text(spec_yaml)
        except InvalidSpec as exc:
            if exc.field is None:  # e.g. not YAML at all: name the request field
                raise InvalidSpec(exc.message, field="spec_yaml") from None
            raise
        refuse_relative_datasets(spec)
        # parse_spec: a bad run_name is INVALID_ARGUMENT naming it, not a pydantic error (INTERNAL)
        return parse_spec(ExperimentRequest, {"spec": spec, "run_name": run_name or spec.name})

    def run_experiment(self, request: ExperimentRequest, reporter: Reporter) -> JobOutput:
        started = time.time()
        execution = Execution(request.run_name, request.spec_hash()[:16], new_stamp())
        spec = request.spec
        journal = RunJournal(self.store, execution, spec_sha256=spec.spec_hash(), plan=experiment_plan(spec))
        scenario = get_scenario(spec.scenario)
        try:
            with journal.watch(cancel=reporter.cancel), _service_status_kept():
                report = self._run_targets(request, started, execution, journal, reporter)
                ref = self._publish(execution, request, report, scenario)
        except BaseException as exc:
            journal.finish("cancelled" if isinstance(exc, Cancelled) else "failed", error=str(exc)[:2000])
            raise
        journal.finish("succeeded", report_uri=ref.uri)
        summary = {"report_uri": ref.uri, "wall_seconds": round(time.time() - started, 2)}
        keys = scenario.summary_keys
        if spec.targets:
            summary["targets"] = {entry["target"]: {k: entry["report"][k] for k in keys} for entry in report["targets"]}
        else:
            summary.update({k: report[k] for k in keys})
        return JobOutput(artifacts={"report": ref}, result=summary)

    def _run_targets(self, request: ExperimentRequest, started: float, execution: Execution, journal: RunJournal,
                     reporter: Reporter) -> dict[str, Any]:
        """One report per target (the lab and generated data shared), combined when there are several."""
        spec = request.spec
        targets = spec.target_list()
        reports = []
        for i, target in enumerate(targets, start=1):
            on_stage_done = _qualified(journal.stage_done, target if spec.targets else "")
            reports.append(self._run_target(request, spec.for_target(target) if spec.targets else spec, started,
                                            execution, _prefixed(journal.reporter(reporter), i, len(targets)),
                                            on_stage_done))
        if not spec.targets:
            return reports[0]
        return combine_target_reports(request.run_name, spec.scenario, reports,
                                      {**_provenance(request, started), "execution": execution.stamp})

    def _run_target(self, request: ExperimentRequest, spec: ExperimentSpec, started: float, execution: Execution,
                    reporter: Reporter, on_stage_done: Callable[[str], None] | None = None) -> dict[str, Any]:
        outcome = self._runner.run(spec, reporter, on_stage_done)
        provenance = {**_provenance(request, started), "input_sha256": outcome.get("input_sha256", {}),
                      "execution": execution.stamp}
        report = get_scenario(spec.scenario).report.build(spec, request.run_name, outcome, provenance)
        if report.get("leakage"):
            report["leaked_values"] = leaked_values(self.store, report["leakage"])
        return report

    def _publish(self, execution: Execution, request: ExperimentRequest, report: dict[str, Any], scenario: Scenario):
        # One report per execution (stage times and cache hits differ between reruns of one spec).
        uri = execution.uri(self.store, "report")
        with tempfile.TemporaryDirectory(prefix="genleak-report-") as tmp:
            folder = Path(tmp)
            singles = [e["report"] for e in report["targets"]] if "targets" in report else [report]
            names = ["roc.png"] if len(singles) == 1 else [f"roc-{i}.png" for i in range(1, len(singles) + 1)]
            roc_files = [name if scenario.figure(r, self.store, folder / name) else None
                         for r, name in zip(singles, names)]
            figures = {name: (folder / name).read_bytes() for name in roc_files if name}
            for name, data in render_report_files(report, figures).items():
                (folder / name).write_bytes(data)
            return self.store.publish(folder, uri, kind="report", meta={"spec_hash": request.spec_hash()})


def _qualified(record: Callable[[str], None], target: str) -> Callable[[str], None]:
    """Stage names as experiment_plan spells them: prefixed by the target when the spec has several."""
    if not target:
        return record
    return lambda name: record(name if name == LAB_STAGE else f"{target}: {name}")


@contextlib.contextmanager
def _service_status_kept() -> Iterator[None]:
    """A nested service call that answered with a status (INVALID_ARGUMENT for a bad dataset URI, NOT_FOUND
    for a missing model) fails the experiment with that status, not INTERNAL: the caller sees the cause."""
    try:
        yield
    except grpc.RpcError as exc:
        code = exc.code() if callable(getattr(exc, "code", None)) else None
        if code is None:  # not a call's outcome: a bug, reported as INTERNAL with its trace in the log
            raise
        raise RemoteJobError(code.name, exc.details() or code.name) from exc


def _prefixed(inner: Reporter, index: int, count: int) -> Reporter:
    """Progress of target `index` of `count`: the message says which (nothing added for one target)."""
    if count == 1:
        return inner

    def forward(stage: str, done: int, total: int, message: str = "") -> None:
        inner.update(stage, done, total, f"target {index}/{count}: {message}")

    return ForwardingReporter(forward, inner)


def _provenance(request: ExperimentRequest, started: float) -> dict[str, Any]:
    # The controller's machine: in the embedded default it is where every model ran too.
    return {"genleak_version": genleak.__version__, "python": platform.python_version(), "machine": platform.machine(),
            "cpu": describe_platform(), "spec_hash": request.spec.spec_hash(), "started_at": started,
            "wall_seconds": round(time.time() - started, 2)}
