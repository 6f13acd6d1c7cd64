"""Faults: a service process SIGKILLed mid-job. The caller (the controller's stages use
genleak.rpc.retry.run_job) waits with backoff, resubmits the same request to the restarted service,
and ends with the same data as an uninterrupted run; nothing half-written is visible meanwhile."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest

from genleak.core.datasets import publish_records
from genleak.core.settings import Settings, StoreSettings
from genleak.core.store import ArtifactStore
from genleak.engines.probe_model import build_tiny_model
from genleak.rpc.channels import open_channel
from genleak.rpc.health_check import check
from genleak.rpc.retry import RetryPolicy, ServiceUnavailable, run_job
from genleak.v1 import common_pb2, generator_pb2, generator_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(name: str, port: int, store_root: str, cache: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "services"), "GENLEAK_STORE": store_root,
           "GENLEAK_CACHE_DIR": str(cache)}
    proc = subprocess.Popen([sys.executable, "-m", "genleak", "serve", name, "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if check(f"127.0.0.1:{port}", Settings(), timeout=1.0) == "SERVING":
                return proc
        except grpc.RpcError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"{name} did not become healthy")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    store_root = f"file://{root}/store"
    store = ArtifactStore(StoreSettings(root=store_root, cache_dir=root / "cache"))
    model = build_tiny_model(root / "model", arch="gpt_neox")
    prompts = publish_records(store, [{"prompt": f"From: Jane Doe {i}\nSubject: gas deal {i}"} for i in range(160)],
                              store.uri_for("inputs", "prompts"))
    return {"root": root, "store_root": store_root, "store": store, "model": str(model), "prompts": prompts}


def _request(world) -> generator_pb2.StartGenerationRequest:
    # Small batches: many progress events, so the kill lands while the job is running.
    request = generator_pb2.StartGenerationRequest(model=common_pb2.ModelRef(uri=world["model"]),
                                                   dataset=common_pb2.ArtifactRef(uri=world["prompts"].uri))
    request.params.update({"engine": {"name": "hf", "batch_size": 4}, "task": "continuation",
                           "config": {"temperature": 0.8, "top_k": 40, "max_new_tokens": 48, "seed": 5}})
    return request


def _rows(store: ArtifactStore, uri: str) -> list[dict]:
    return [json.loads(line) for line in (store.fetch(uri) / "data.jsonl").read_text().splitlines()]


def test_killed_generator_is_retried_and_the_job_ends_with_the_same_data(world, tmp_path, robustness_tally):
    port = _free_port()
    service = {"proc": _serve("generator", port, world["store_root"], tmp_path / "c1")}
    stub = generator_pb2_grpc.GeneratorServiceStub(open_channel(f"127.0.0.1:{port}"))
    killed_at: list[int] = []

    def restart_later() -> None:
        time.sleep(1.0)
        service["proc"] = _serve("generator", port, world["store_root"], tmp_path / "c2")

    def kill_mid_job(job: common_pb2.Job) -> None:
        if not killed_at and job.state == common_pb2.JOB_STATE_RUNNING and 0 < job.progress.done < job.progress.total:
            killed_at.append(job.progress.done)
            os.kill(service["proc"].pid, signal.SIGKILL)
            threading.Thread(target=restart_later, daemon=True).start()

    try:
        done = run_job(lambda: stub.StartGeneration(_request(world)), stub, kill_mid_job,
                       RetryPolicy(budget_seconds=180, initial_delay_seconds=0.3, max_delay_seconds=2.0))
    finally:
        service["proc"].kill()
    assert killed_at, "the job finished before the kill: make it longer"
    assert done.state == common_pb2.JOB_STATE_SUCCEEDED
    resumed = _rows(world["store"], done.artifacts["dataset"].uri)

    # The same request on an untouched service and store: the same rows, byte for byte.
    reference_store = f"file://{tmp_path}/reference"
    port2 = _free_port()
    proc = _serve("generator", port2, reference_store, tmp_path / "c3")
    try:
        stub2 = generator_pb2_grpc.GeneratorServiceStub(open_channel(f"127.0.0.1:{port2}"))
        request = _request(world)
        request.dataset.CopyFrom(common_pb2.ArtifactRef(uri=_copy_prompts(world, reference_store, tmp_path)))
        reference = run_job(lambda: stub2.StartGeneration(request), stub2)
    finally:
        proc.kill()
    reference_rows = _rows(ArtifactStore(StoreSettings(root=reference_store, cache_dir=tmp_path / "c4")),
                           reference.artifacts["dataset"].uri)
    assert resumed == reference_rows and len(resumed) == 160
    robustness_tally.count("faults: service SIGKILLed mid-job", "retried, identical data")
    robustness_tally.figure("fault: killed generator", f"SIGKILL at {killed_at[0]}/160 prompts; the resubmitted "
                                                       f"job's {len(resumed)} rows equal an uninterrupted run's")


def _copy_prompts(world, store_root: str, tmp_path: Path) -> str:
    store = ArtifactStore(StoreSettings(root=store_root, cache_dir=tmp_path / "c5"))
    rows = _rows(world["store"], world["prompts"].uri)
    return publish_records(store, rows, store.uri_for("inputs", "prompts")).uri


def test_a_service_that_never_comes_back_is_a_clear_unavailable_error(world, robustness_tally):
    port = _free_port()  # nothing listens here
    stub = generator_pb2_grpc.GeneratorServiceStub(open_channel(f"127.0.0.1:{port}"))
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable, match="still unavailable after"):
        run_job(lambda: stub.StartGeneration(_request(world)), stub,
                policy=RetryPolicy(budget_seconds=2.0, initial_delay_seconds=0.2, max_delay_seconds=0.5))
    assert time.monotonic() - started < 10
    robustness_tally.count("faults: service never back", "UNAVAILABLE after the retry budget")


def test_bad_requests_are_not_retried(world):
    port = _free_port()
    proc = _serve("generator", port, world["store_root"], world["root"] / "c6")
    try:
        stub = generator_pb2_grpc.GeneratorServiceStub(open_channel(f"127.0.0.1:{port}"))
        request = _request(world)
        request.model.uri = str(world["root"] / "no-such-model")
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as err:
            run_job(lambda: stub.StartGeneration(request), stub, policy=RetryPolicy(budget_seconds=60))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND and time.monotonic() - started < 5
    finally:
        proc.kill()
