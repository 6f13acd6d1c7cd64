"""ListJobs on every service and the controller's GetReport, over real gRPC on loopback (issue 16, item 2).

The workers are the real services (a tiny model generates a few tokens). The controller's experiments run
a seconds-long scenario registered for the test (its 'attack' measures a URI, and holds while the test
wants a running experiment), so no model runs there."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import pytest

from genleak.app import build_service
from genleak.controller.clients import ServiceClients
from genleak.controller.scenarios import register_scenario, unregister_scenario
from genleak.controller.service import ControllerCore
from genleak.controller.servicer import binding
from genleak.core.datasets import publish_records
from genleak.core.jobs import JobManager
from genleak.core.settings import Settings, StoreSettings
from genleak.core.store import ArtifactStore
from genleak.engines.probe_model import build_tiny_model
from genleak.report.scenarios import ScenarioReport
from genleak.rpc.channels import RemoteJobError, open_channel, wait_for_job
from genleak.rpc.server import start_server
from genleak.v1 import (attacker_pb2_grpc, common_pb2, controller_pb2, controller_pb2_grpc, finetuner_pb2_grpc,
                        generator_pb2, generator_pb2_grpc)

TOKEN = "list-jobs-token"
STUBS = {"generator": generator_pb2_grpc.GeneratorServiceStub, "finetuner": finetuner_pb2_grpc.FinetunerServiceStub,
         "attacker": attacker_pb2_grpc.AttackerServiceStub}
KINDS = {"generator": "generation", "finetuner": "finetune, lab", "attacker": "extraction, mia, mia-merge, pii_scan"}


def _status(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return err.value.code(), err.value.details()


# ---- ListJobs on the workers


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    root = tmp_path_factory.mktemp("list-jobs")
    settings = Settings(store=StoreSettings(root=f"file://{root}/store", cache_dir=root / "cache"), auth_token=TOKEN)
    store = ArtifactStore(settings.store)
    model = build_tiny_model(root / "model", arch="gpt_neox")
    prompts = publish_records(store, [{"prompt": f"From: Jane Doe {i}"} for i in range(3)],
                              store.uri_for("inputs", "prompts"))
    no_prompts = publish_records(store, [{"nope": 1}], store.uri_for("inputs", "bad"))
    servers = {name: start_server([build_service(name, settings, store)], auth_token=TOKEN) for name in STUBS}
    channels = {name: open_channel(s.address, TOKEN) for name, s in servers.items()}
    yield {"stubs": {name: STUBS[name](channels[name]) for name in STUBS}, "model": str(model),
           "prompts": prompts.uri, "no_prompts": no_prompts.uri}
    for name, server in servers.items():
        channels[name].close()
        server.stop(grace=0.5)


def _generation(world, dataset: str, seed: int) -> generator_pb2.StartGenerationRequest:
    request = generator_pb2.StartGenerationRequest(model=common_pb2.ModelRef(uri=world["model"]),
                                                   dataset=common_pb2.ArtifactRef(uri=dataset))
    request.params.update({"task": "continuation", "config": {"max_new_tokens": 2, "seed": seed}})
    return request


def test_list_jobs_newest_first_filtered_and_paged(workers):
    stub = workers["stubs"]["generator"]
    assert list(stub.ListJobs(common_pb2.ListJobsRequest()).jobs) == []
    started = []
    for seed in (1, 2, 3):
        started.append(wait_for_job(stub, stub.StartGeneration(_generation(workers, workers["prompts"], seed))))
    with pytest.raises(RemoteJobError):  # passes preflight, fails inside the job: a FAILED job to list
        wait_for_job(stub, stub.StartGeneration(_generation(workers, workers["no_prompts"], 4)))

    listed = list(stub.ListJobs(common_pb2.ListJobsRequest()).jobs)
    assert len(listed) == 4 and [j.created_at for j in listed] == sorted((j.created_at for j in listed), reverse=True)
    assert [j.job_id for j in listed[1:]] == [j.job_id for j in reversed(started)]
    assert listed[1] == stub.GetJob(common_pb2.GetJobRequest(job_id=listed[1].job_id))  # full snapshots
    assert listed[1].artifacts["dataset"].uri and listed[1].result.fields
    assert all(j.kind == "generation" for j in listed)

    failed = stub.ListJobs(common_pb2.ListJobsRequest(states=[common_pb2.JOB_STATE_FAILED])).jobs
    assert [j.job_id for j in failed] == [listed[0].job_id] and failed[0].error.code == "INVALID_ARGUMENT"
    both = stub.ListJobs(common_pb2.ListJobsRequest(
        kind="generation", states=[common_pb2.JOB_STATE_SUCCEEDED, common_pb2.JOB_STATE_RUNNING])).jobs
    assert [j.job_id for j in both] == [j.job_id for j in listed[1:]]

    pages, token = [], ""
    while True:
        page = stub.ListJobs(common_pb2.ListJobsRequest(page_size=3, page_token=token))
        pages.append([j.job_id for j in page.jobs])
        token = page.next_page_token
        if not token:
            break
    assert pages == [[j.job_id for j in listed[:3]], [listed[3].job_id]]
    one = stub.ListJobs(common_pb2.ListJobsRequest(page_size=1, states=[common_pb2.JOB_STATE_FAILED]))
    assert len(one.jobs) == 1 and one.next_page_token == ""  # nothing more of that state


@pytest.mark.parametrize("request_fields, field", [
    ({"page_size": -1}, "page_size"), ({"page_size": 1001}, "page_size"), ({"page_token": "junk"}, "page_token"),
    ({"page_token": "nan/x"}, "page_token"), ({"states": [common_pb2.JOB_STATE_UNSPECIFIED]}, "states"),
    ({"kind": "finetune"}, "kind"),
])
def test_bad_list_requests_are_invalid_argument_naming_the_field(workers, request_fields, field):
    stub = workers["stubs"]["generator"]
    code, details = _status(lambda: stub.ListJobs(common_pb2.ListJobsRequest(**request_fields)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith(f"{field}: "), details


@pytest.mark.parametrize("service", sorted(STUBS))
def test_every_worker_lists_its_jobs_and_names_its_kinds(workers, service):
    stub = workers["stubs"][service]
    assert isinstance(list(stub.ListJobs(common_pb2.ListJobsRequest(page_size=5)).jobs), list)
    code, details = _status(lambda: stub.ListJobs(common_pb2.ListJobsRequest(kind="experiment")))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and f"valid: {KINDS[service]} " in details


# ---- the controller: ListJobs and GetReport


REPORT = ScenarioReport(
    build=lambda spec, run, outcome, provenance: {
        "run": run, "scenario": spec.scenario, "provenance": provenance, "stage_seconds": outcome["stage_seconds"],
        "lengths": {a["condition"]: a["length"] for a in outcome["attacks"]}, "undefined": float("nan")},
    markdown=lambda report, roc_file: f"# quick report: {report['run']}\n",
    html_body=lambda report, figures: "<p>quick</p>\n",
    attacked_checkpoints=lambda report: (["condition", "model"], []),
    control_summary=lambda control: "Rule: none.")


class QuickScenario:
    """Attacks the base model only; an experiment whose spec is named `held*` holds in its attack (reporting
    progress like a followed job) until `release` is set."""

    name = "quick"
    default_generation_task = "continuation"
    summary_keys = ("lengths",)
    report = REPORT

    def __init__(self):
        self.release = threading.Event()
        self.holding = threading.Event()

    def references(self, spec) -> list[str]:
        return []

    def scans_leakage(self, spec) -> bool:
        return False

    def resolve_inputs(self, spec, inputs, runner, refs) -> None:
        pass

    def attacked_epochs(self, spec) -> list[int]:
        return [1]

    def attack(self, spec, inputs, model_uri: str, runner, on_update) -> dict[str, Any]:
        while spec.name.startswith("held") and not self.release.wait(0.05):
            self.holding.set()
            on_update(common_pb2.Job(progress=common_pb2.Progress(stage="attack", message="held")))
        return {"length": len(model_uri)}

    def control_verdict(self, spec, results, planted, runner) -> dict[str, Any]:
        return {}

    def figure(self, report, store, path: Path) -> bool:
        return False


@pytest.fixture(scope="module")
def controller(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    scenario = register_scenario(QuickScenario())
    store = ArtifactStore(StoreSettings(root=f"file://{root}/store", cache_dir=root / "cache"))
    model = root / "target"
    model.mkdir()
    (model / "config.json").write_text("{}")
    prompts = publish_records(store, [{"prompt": "From: Jane", "continuation": " hi"}], store.uri_for("inputs", "p"))
    servers, jobs = [], []

    def start() -> controller_pb2_grpc.ControllerServiceStub:
        """A controller on the module's store; each one holds its own jobs (as after a restart)."""
        jobs.append(JobManager(workers=2))
        servers.append(start_server([binding(ControllerCore(store, ServiceClients(None, None, None, ())), jobs[-1])],
                                    auth_token=TOKEN))
        return controller_pb2_grpc.ControllerServiceStub(open_channel(servers[-1].address, TOKEN))

    def spec(name: str) -> str:
        return (f"name: {name}\nscenario: quick\nlab: null\ntarget: {model}\ndata: {{prompts: '{prompts.uri}'}}\n"
                "conditions: [base]\n")

    try:
        yield {"start": start, "stub": start(), "spec": spec, "scenario": scenario, "store": store}
    finally:
        scenario.release.set()
        for server, manager in zip(servers, jobs):
            server.stop(grace=1.0)
            manager.shutdown()
        unregister_scenario("quick")


def _run(stub, spec_yaml: str, run_name: str = "") -> common_pb2.Job:
    request = controller_pb2.StartExperimentRequest(spec_yaml=spec_yaml, run_name=run_name)
    return wait_for_job(stub, stub.StartExperiment(request))


def test_get_report_by_job_by_run_and_by_execution(controller):
    stub = controller["stub"]
    first = _run(stub, controller["spec"]("quick-a"), run_name="quick-run")
    time.sleep(1.1)  # execution stamps have a one-second resolution (plus a random part): keep them ordered
    second = _run(stub, controller["spec"]("quick-b"), run_name="quick-run")  # another spec, the same run
    assert first.job_id != second.job_id

    by_job = stub.GetReport(controller_pb2.GetReportRequest(job_id=first.job_id))
    assert by_job.report == first.artifacts["report"] and by_job.report.kind == "report"
    assert by_job.run_name == "quick-run" and by_job.report.uri.endswith(f"/{by_job.stamp}/report")
    report = json.loads(by_job.report_json)  # Python's json reads the NaN back
    assert report["run"] == "quick-run" and report["lengths"]["base"] > 0 and report["undefined"] != report["undefined"]
    assert by_job.report_markdown.startswith("# quick report: quick-run")
    folder = controller["store"].fetch(by_job.report.uri, expected_sha256=by_job.report.sha256)
    assert (folder / "report.json").read_text() == by_job.report_json

    newest = stub.GetReport(controller_pb2.GetReportRequest(run_name="quick-run"))
    assert newest.report == second.artifacts["report"] and newest.stamp > by_job.stamp
    older = stub.GetReport(controller_pb2.GetReportRequest(run_name="quick-run", stamp=by_job.stamp))
    assert older.report == by_job.report

    listed = stub.ListJobs(common_pb2.ListJobsRequest(kind="experiment")).jobs
    assert [j.job_id for j in listed][:2] == [second.job_id, first.job_id]

    restarted = controller["start"]()  # holds no job: the report is found through the store's run journal
    assert list(restarted.ListJobs(common_pb2.ListJobsRequest()).jobs) == []
    assert restarted.GetReport(controller_pb2.GetReportRequest(job_id=first.job_id)).report == by_job.report


def test_get_report_of_a_running_then_cancelled_experiment_is_failed_precondition(controller):
    stub, scenario = controller["stub"], controller["scenario"]
    scenario.release.clear()
    job = stub.StartExperiment(controller_pb2.StartExperimentRequest(spec_yaml=controller["spec"]("held-run")))
    assert scenario.holding.wait(30)
    running = stub.ListJobs(common_pb2.ListJobsRequest(states=[common_pb2.JOB_STATE_RUNNING])).jobs
    assert [j.job_id for j in running] == [job.job_id]
    code, details = _status(lambda: stub.GetReport(controller_pb2.GetReportRequest(job_id=job.job_id)))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "is running" in details
    code, details = _status(lambda: stub.GetReport(controller_pb2.GetReportRequest(run_name="held-run")))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "no report yet" in details and "running" in details

    stub.CancelJob(common_pb2.CancelJobRequest(job_id=job.job_id))
    with pytest.raises(RemoteJobError):
        wait_for_job(stub, job)
    scenario.release.set()
    code, details = _status(lambda: stub.GetReport(controller_pb2.GetReportRequest(job_id=job.job_id)))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "is cancelled" in details
    code, details = _status(lambda: stub.GetReport(controller_pb2.GetReportRequest(run_name="held-run")))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "cancelled" in details


@pytest.mark.parametrize("request_fields, code, expected", [
    ({}, grpc.StatusCode.INVALID_ARGUMENT, "job_id: set job_id (an experiment job) or run_name"),
    ({"run_name": "no-such-run"}, grpc.StatusCode.NOT_FOUND, "no run named 'no-such-run'"),
    ({"run_name": ".."}, grpc.StatusCode.INVALID_ARGUMENT, "run_name: "),
    ({"run_name": "a/b"}, grpc.StatusCode.INVALID_ARGUMENT, "run_name: "),
    ({"run_name": "quick-run", "stamp": "yesterday"}, grpc.StatusCode.INVALID_ARGUMENT, "stamp: "),
    ({"job_id": "experiment-0123456789abcdef0123", "stamp": "20250101T120000Z-a1b2c3"},
     grpc.StatusCode.INVALID_ARGUMENT, "stamp: only with run_name"),
    ({"job_id": "experiment-0123456789abcdef0123"}, grpc.StatusCode.NOT_FOUND, "run journal"),
    ({"job_id": "generation-0123"}, grpc.StatusCode.NOT_FOUND, "no experiment job 'generation-0123'"),
])
def test_bad_report_requests_name_the_problem(controller, request_fields, code, expected):
    got, details = _status(lambda: controller["stub"].GetReport(controller_pb2.GetReportRequest(**request_fields)))
    assert got == code and expected in details, details
