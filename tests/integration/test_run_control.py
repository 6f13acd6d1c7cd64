"""Run control from the CLI against a real controller over gRPC (issue 16, item 5): `genleak run` prints
the run's job id as it starts, `genleak runs` lists it while it runs, `genleak cancel` stops it through
the store's run journal, and `genleak validate` afterwards knows which stages are cached.

The experiment is a seconds-long scenario registered for the test (an 'attack' that measures a URI and,
while held, keeps reporting progress like a service job does), so no model runs; the fine-tune stage is
answered by a stand-in that returns checkpoint references."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from genleak.cli import main
from genleak.cli.run import interrupted_remote_run
from genleak.controller import stages
from genleak.controller.clients import ServiceClients
from genleak.controller.journal import list_executions
from genleak.controller.runner import plan_stages
from genleak.controller.scenarios import register_scenario, unregister_scenario
from genleak.controller.service import ControllerCore
from genleak.controller.servicer import binding
from genleak.controller.spec import load_spec_text
from genleak.core.datasets import publish_records
from genleak.core.errors import ArtifactNotFound
from genleak.core.jobs import JobManager
from genleak.core.settings import StoreSettings
from genleak.core.store import ArtifactStore
from genleak.report.scenarios import ScenarioReport
from genleak.rpc.channels import open_channel
from genleak.rpc.server import start_server
from genleak.v1 import common_pb2, controller_pb2_grpc

REPORT = ScenarioReport(
    build=lambda spec, run, outcome, provenance: {
        "run": run, "scenario": spec.scenario, "inputs": outcome["inputs"], "provenance": provenance,
        "stage_seconds": outcome["stage_seconds"], "attacks": outcome["attacks"],
        "lengths": {f"{a['condition']}@{a['epoch']}": a["length"] for a in outcome["attacks"]}},
    markdown=lambda report, roc_file: f"# held report: {report['run']}\n",
    html_body=lambda report, figures: "<p>held</p>\n",
    attacked_checkpoints=lambda report: (["condition", "epoch", "model", "x", "y"],
                                         [[a["condition"], a["epoch"], a["model"], "", ""] for a in report["attacks"]]),
    control_summary=lambda control: "Rule: none.")


pytestmark = pytest.mark.usefixtures("cli_leaves_no_trace")


class HeldScenario:
    """Attacks epoch 1 of each tuned model; an attack reports progress until `release` is set."""

    name = "held"
    default_generation_task = "continuation"
    summary_keys = ("lengths",)
    report = REPORT

    def __init__(self):
        self.release = threading.Event()
        self.attacking = threading.Event()

    def references(self, spec) -> list[str]:
        return []

    def scans_leakage(self, spec) -> bool:
        return False

    def resolve_inputs(self, spec, inputs, runner, refs) -> None:
        pass

    def attacked_epochs(self, spec) -> list[int]:
        return [1]

    def attack(self, spec, inputs, model_uri: str, runner, on_update) -> dict[str, Any]:
        self.attacking.set()
        while not self.release.wait(0.05):  # as a followed service job: each update may find the run cancelled
            on_update(common_pb2.Job(progress=common_pb2.Progress(stage="attack", message="held")))
        return {"length": len(model_uri)}

    def control_verdict(self, spec, results, planted, runner) -> dict[str, Any]:
        return {}

    def figure(self, report, store, path: Path) -> bool:
        return False


@pytest.fixture
def world(tmp_path, monkeypatch):
    def finetune(stub, spec, setting, model_uri, dataset, data_format, on_update, on_compute=None):
        return {e: common_pb2.ArtifactRef(uri=f"file:///ckpt/{e}") for e in range(1, spec.epochs + 1)}

    monkeypatch.setattr(stages, "finetune", finetune)
    monkeypatch.setenv("GENLEAK_CACHE_DIR", str(tmp_path / "cache"))
    scenario = register_scenario(HeldScenario())
    store = ArtifactStore(StoreSettings(root=f"file://{tmp_path}/store", cache_dir=tmp_path / "cache"))
    jobs = JobManager(workers=2)
    server = start_server([binding(ControllerCore(store, ServiceClients(None, None, None, ())), jobs)])
    channel = open_channel(server.address)
    model = tmp_path / "target"
    model.mkdir()
    (model / "config.json").write_text("{}")
    prompts = publish_records(store, [{"prompt": "From: Jane", "continuation": " hi"}], store.uri_for("inputs", "p"))
    spec = tmp_path / "held.yaml"
    spec.write_text(f"name: held-run\nscenario: held\nlab: null\ntarget: {model}\ndata: {{prompts: '{prompts.uri}'}}\n"
                    "conditions: [base, original]\nfinetune: {epochs: 2}\n")
    try:
        yield {"scenario": scenario, "store": store, "address": server.address, "spec": spec,
               "stub": controller_pb2_grpc.ControllerServiceStub(channel)}
    finally:
        scenario.release.set()
        channel.close()
        server.stop(grace=1.0)
        jobs.shutdown()
        unregister_scenario("held")


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_prints_its_job_id_and_validate_then_finds_every_stage_cached(world, capsys):
    world["scenario"].release.set()
    store = world["store"].root
    code, out, err = _cli(capsys, "validate", str(world["spec"]), "--json", "--store", store)
    planned = json.loads(out)
    assert code == 0 and planned["cached"] == 0
    assert [s["name"] for s in planned["stages"]] == ["attack[base]", "finetune[original]", "attack[original@epoch1]"]

    code, out, err = _cli(capsys, "run", str(world["spec"]), "--remote", "--controller", world["address"],
                          "--store", store, "--no-progress")
    assert code == 0 and "# held report: held-run" in out, err
    [started] = [line for line in err.splitlines() if line.startswith("run held-run: job ")]
    job_id = started.split()[3]
    assert job_id.startswith("experiment-") and "genleak cancel held-run" in started
    assert world["stub"].GetJob(common_pb2.GetJobRequest(job_id=job_id)).state == common_pb2.JOB_STATE_SUCCEEDED

    [execution] = list_executions(world["store"], "held-run")
    report = json.loads((world["store"].fetch(execution["report_uri"]) / "report.json").read_text())
    spec = load_spec_text(world["spec"].read_text())
    # The plan names the stages the run times, and the journal recorded each as it was published.
    assert set(plan_stages(spec)) == set(report["stage_seconds"]) - {"lab"} == set(execution["stages_done"])
    assert execution["plan"] == plan_stages(spec) and execution["owner"]["pid"] > 0
    # as it was run: --remote publishes the local target folder, and that artifact is in the spec run
    code, out, _ = _cli(capsys, "validate", str(world["spec"]), "--remote", "--store", store)
    assert code == 0 and "3 stages, 3 cached" in out


def test_runs_lists_a_running_run_and_cancel_stops_it(world, capsys):
    store = world["store"].root
    ran: dict[str, int] = {}
    run = threading.Thread(target=lambda: ran.update(code=main([
        "run", str(world["spec"]), "--run-name", "to-cancel", "--remote", "--controller", world["address"],
        "--store", store, "--no-progress"])))
    run.start()
    assert world["scenario"].attacking.wait(30)
    deadline = time.monotonic() + 30
    while not list_executions_or_none(world["store"], "to-cancel") and time.monotonic() < deadline:
        time.sleep(0.1)
    code, out, _ = _cli(capsys, "runs", "--json", "--store", store)
    [row] = [r for r in json.loads(out) if r["run"] == "to-cancel"]
    assert code == 0 and row["state"] == "running" and row["owner"]["pid"] > 0

    started = time.monotonic()
    code, out, err = _cli(capsys, "cancel", "to-cancel", "--store", store, "--wait", "60")
    assert code == 0 and "cancel requested: to-cancel " in err and out.strip().endswith(": cancelled"), (out, err)
    assert time.monotonic() - started < 30  # the controller polls for the request every few seconds
    run.join(60)
    assert not run.is_alive() and ran["code"] == 130  # the run that was followed ends as cancelled, resumable
    assert "run to-cancel: cancelled" in err + capsys.readouterr().err  # both commands write to this stderr
    code, out, _ = _cli(capsys, "status", "to-cancel", "--json", "--store", store)
    [status] = json.loads(out)
    assert status["state"] == "cancelled" and status["cancel_requested"]
    assert _cli(capsys, "cancel", "to-cancel", "--store", store)[0] == 1  # nothing left to cancel


def test_a_detached_run_returns_its_job_id_and_ctrl_c_asks_before_cancelling(world, capsys):
    store = world["store"].root
    code, out, err = _cli(capsys, "run", str(world["spec"]), "--run-name", "detached", "--remote", "--detach",
                          "--controller", world["address"], "--store", store)
    job_id = out.strip()
    assert code == 0 and job_id.startswith("experiment-") and f"run detached: job {job_id} started" in err
    stub = world["stub"]
    assert world["scenario"].attacking.wait(30)
    # Ctrl-C while following a remote run, nobody at the terminal: the run goes on, and the user is told how
    # to follow or stop it.
    assert interrupted_remote_run(stub, job_id, "detached", ask=None) == 130
    assert "`genleak cancel detached` stops it" in capsys.readouterr().err
    assert stub.GetJob(common_pb2.GetJobRequest(job_id=job_id)).state == common_pb2.JOB_STATE_RUNNING
    # Someone answers yes: the controller cancels it.
    asked: list[str] = []
    assert interrupted_remote_run(stub, job_id, "detached", ask=lambda q: asked.append(q) or "y") == 130
    assert asked == ["\ncancel run detached on the controller? [y/N] "]
    deadline = time.monotonic() + 30
    while stub.GetJob(common_pb2.GetJobRequest(job_id=job_id)).state != common_pb2.JOB_STATE_CANCELLED:
        assert time.monotonic() < deadline, "the job was not cancelled"
        time.sleep(0.1)
    # By job id, with the controller's CancelJob RPC.
    code, out, _ = _cli(capsys, "run", str(world["spec"]), "--run-name", "detached-2", "--remote", "--detach",
                        "--controller", world["address"], "--store", store)
    code, out, _ = _cli(capsys, "cancel", "--job", out.strip(), "--controller", world["address"], "--store", store)
    assert code == 0 and out.strip().endswith(": cancelled")
    code, _, err = _cli(capsys, "run", str(world["spec"]), "--detach", "--store", store)
    assert code == 2 and "error: detach: --detach needs --remote" in err


def list_executions_or_none(store: ArtifactStore, run: str) -> list[dict[str, Any]]:
    try:
        return list_executions(store, run)
    except ArtifactNotFound:  # not journaled yet
        return []
