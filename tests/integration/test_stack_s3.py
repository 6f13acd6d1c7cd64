"""All four servers on loopback ports, S3 store on a real S3 HTTP endpoint (moto), a tiny spec over gRPC."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import grpc
import pytest
from minio import Minio

from genleak.app import EmbeddedStack
from genleak.core.settings import Settings, StoreSettings
from genleak.core.store import ArtifactStore
from genleak.rpc.channels import open_channel, wait_for_job
from genleak.v1 import common_pb2, controller_pb2, controller_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "stack-token"


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def stack(s3_endpoint, tmp_path_factory):
    store = StoreSettings(root="s3://genleak-it/artifacts", cache_dir=tmp_path_factory.mktemp("cache"),
                          s3_endpoint=s3_endpoint, s3_access_key="testing", s3_secret_key="testing", s3_secure=False)
    settings = Settings(store=store, auth_token=TOKEN)
    with EmbeddedStack(settings) as running:
        yield settings, running


def _controller(stack):
    settings, running = stack
    return controller_pb2_grpc.ControllerServiceStub(open_channel(running.controller_address, TOKEN))


def test_bad_spec_is_rejected_naming_the_key(stack):
    with pytest.raises(grpc.RpcError) as err:
        _controller(stack).StartExperiment(controller_pb2.StartExperimentRequest(spec_yaml="attack: {temperatures: [-1]}"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "attack.temperatures" in err.value.details()


def test_tiny_scenario_a_end_to_end_over_grpc_and_s3(stack, s3_endpoint):
    settings, _ = stack
    stub = _controller(stack)
    spec_yaml = (ROOT / "examples" / "tiny.yaml").read_text()
    stages_seen = set()
    job = wait_for_job(stub, stub.StartExperiment(controller_pb2.StartExperimentRequest(spec_yaml=spec_yaml)),
                       lambda j: stages_seen.add(j.progress.message.split(":")[0]))
    assert job.state == common_pb2.JOB_STATE_SUCCEEDED
    assert {"generate", "finetune[original]", "finetune[generated]", "attack[base]"} <= stages_seen
    report_ref = job.artifacts["report"]
    assert report_ref.uri.startswith("s3://genleak-it/")
    folder = ArtifactStore(settings.store).fetch(report_ref.uri, expected_sha256=report_ref.sha256)
    report = json.loads((folder / "report.json").read_text())
    conditions = ["base", "original", "generated", "generated-scrubbed"]
    assert report["conditions"] == conditions
    for metric in ("fuzzy", "exact"):
        assert set(report["best"][metric]) == {"A", "B", "C", "D"}
        for row in report["best"][metric].values():
            assert set(row) == set(conditions)
    assert [scan["condition"] for scan in report["leakage"]] == conditions
    markdown = (folder / "report.md").read_text()
    assert "| template | base | original | generated | generated-scrubbed |" in markdown
    assert "emails exactly" in report["lab_memorization"]["summary"]
    assert "Lab, before any fine-tuning: target completes" in markdown
    # Artifacts are plain S3 objects that any S3 client can list.
    client = Minio(s3_endpoint, access_key="testing", secret_key="testing", secure=False, region="us-east-1")
    keys = [o.object_name for o in client.list_objects("genleak-it", prefix="artifacts/", recursive=True)]
    assert any(k.endswith("report/MANIFEST.json") for k in keys)
    assert any(k.endswith("merged/model.safetensors") for k in keys)
    # Reports never carry the queried e-mails in clear text.
    targets = ArtifactStore(settings.store).fetch(report["inputs"]["pii_targets"])
    emails = [json.loads(line)["email"] for line in (targets / "data.jsonl").read_text().splitlines()]
    people = ArtifactStore(settings.store).fetch(report["inputs"]["people"])
    emails += [json.loads(line)["email"] for line in (people / "data.jsonl").read_text().splitlines()]
    assert not any(e in markdown or e in json.dumps(report) for e in emails)

    # The run journal lives in the same bucket: `genleak status` reads it back.
    from genleak.controller.journal import list_executions

    latest = list_executions(ArtifactStore(settings.store), "tiny")[0]
    assert latest["state"] == "succeeded" and latest["report_uri"] == report_ref.uri
    assert latest["done"] == latest["total"] > 0

    rerun = stub.StartExperiment(controller_pb2.StartExperimentRequest(spec_yaml=spec_yaml))
    assert rerun.job_id == job.job_id  # same request, same job
