"""Worker services over real gRPC on loopback: validation, NOT_FOUND, jobs, auth, health, reflection."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from genleak.app import build_service
from genleak.core.datasets import publish_records
from genleak.core.settings import Settings, StoreSettings
from genleak.core.store import ArtifactStore
from genleak.engines.probe_model import build_tiny_model
from genleak.rpc.channels import RemoteJobError, open_channel, wait_for_job
from genleak.rpc.convert import struct_to_dict
from genleak.rpc.server import start_server
from genleak.v1 import (attacker_pb2, attacker_pb2_grpc, common_pb2, finetuner_pb2, finetuner_pb2_grpc, generator_pb2,
                        generator_pb2_grpc)

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("svc")
    settings = Settings(store=StoreSettings(root=f"file://{root}/store", cache_dir=root / "cache"), auth_token=TOKEN)
    store = ArtifactStore(settings.store)
    model = build_tiny_model(root / "model", arch="gpt_neox")
    prompts = publish_records(store, [{"prompt": f"From: Jane Doe {i}", "continuation": " hello"} for i in range(6)],
                              store.uri_for("inputs", "prompts"))
    people = [{"name": "Jane Doe", "email": "jane.doe@enron.com"}, {"name": "John Roe", "email": "jroe@enron.com"}]
    targets = publish_records(store, people, store.uri_for("inputs", "targets"))
    few_shot = publish_records(store, (people * 3)[:5], store.uri_for("inputs", "few_shot"))  # the paper's 5 shots
    servers = {name: start_server([build_service(name, settings, store)], auth_token=TOKEN)
               for name in ("generator", "finetuner", "attacker")}
    channels = {name: open_channel(s.address, TOKEN) for name, s in servers.items()}
    yield {"settings": settings, "store": store, "model": str(model), "prompts": prompts, "targets": targets,
           "few_shot": few_shot, "servers": servers, "channels": channels}
    for server in servers.values():
        server.stop(grace=0.5)


def _gen_stub(world):
    return generator_pb2_grpc.GeneratorServiceStub(world["channels"]["generator"])


def _gen_request(world, **sampling) -> generator_pb2.StartGenerationRequest:
    """References as typed fields, the task and its knobs (sampling included) in the params Struct."""
    request = generator_pb2.StartGenerationRequest(
        model=common_pb2.ModelRef(uri=world["model"]), dataset=common_pb2.ArtifactRef(uri=world["prompts"].uri))
    request.params.update({"task": "continuation", "config": {"max_new_tokens": 8, **sampling}})
    return request


def _code_and_details(call):
    with pytest.raises(grpc.RpcError) as err:
        call()
    return err.value.code(), err.value.details()


def test_negative_temperature_is_invalid_argument_naming_the_field(world):
    code, details = _code_and_details(lambda: _gen_stub(world).StartGeneration(_gen_request(world, temperature=-1.0)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "params.config.temperature" in details


def test_unknown_model_path_is_not_found(world):
    request = _gen_request(world)
    request.model.uri = "/no/such/model"
    code, details = _code_and_details(lambda: _gen_stub(world).StartGeneration(request))
    assert code == grpc.StatusCode.NOT_FOUND and "model.uri" in details and "/no/such/model" in details


def test_missing_dataset_is_not_found(world):
    request = _gen_request(world)
    request.dataset.uri = world["store"].uri_for("inputs", "nothing-here")
    code, details = _code_and_details(lambda: _gen_stub(world).StartGeneration(request))
    assert code == grpc.StatusCode.NOT_FOUND and "dataset.uri" in details


def test_generation_job_streams_progress_and_is_idempotent(world):
    stub = _gen_stub(world)
    first = stub.StartGeneration(_gen_request(world, temperature=0.75, top_k=100, seed=1))
    updates = []
    done = wait_for_job(stub, first, updates.append)
    assert done.state == common_pb2.JOB_STATE_SUCCEEDED and updates
    folder = world["store"].fetch(done.artifacts["dataset"].uri)
    lines = (folder / "data.jsonl").read_text().splitlines()
    assert len(lines) == 6 and '"text"' in lines[0]
    result = struct_to_dict(done.result)
    compute, engine = result["compute"], result["engine"]
    assert compute["device_type"] == engine["device"] == "cpu" and compute["precision"] == "float32"
    assert compute["peak_memory_bytes"] > 0 and compute["tokens_per_second"] == result["tokens_per_second"]
    assert engine["device_record"]["device_name"] == compute["device_name"]  # the hf engine ran in this process
    again = stub.StartGeneration(_gen_request(world, temperature=0.75, top_k=100, seed=1))
    assert again.job_id == first.job_id and again.artifacts["dataset"].sha256 == done.artifacts["dataset"].sha256


def test_scrubbed_generation_replaces_names_and_emails_before_generating(world):
    """The generated-scrubbed condition's generator side: prompts carry surrogates, stats count them."""
    import json

    stub = _gen_stub(world)
    request = _gen_request(world, temperature=0.75, top_k=100, seed=1)
    request.params.update({"scrub": {"fields": ["prompt"], "seed": 4}})
    done = wait_for_job(stub, stub.StartGeneration(request))
    assert done.state == common_pb2.JOB_STATE_SUCCEEDED
    rows = [json.loads(line) for line in
            (world["store"].fetch(done.artifacts["dataset"].uri) / "data.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and not any("Jane Doe" in r["prompt"] or "Jane Doe" in r["text"] for r in rows)
    assert len({r["prompt"].split(" ", 1)[1].rsplit(" ", 2)[0] for r in rows}) == 1  # one person, one surrogate
    stats = struct_to_dict(done.result)["scrub"]
    assert stats["replaced"]["PERSON"] == 6 and stats["fields"] == ["prompt"]
    plain = wait_for_job(stub, stub.StartGeneration(_gen_request(world, temperature=0.75, top_k=100, seed=1)))
    assert plain.artifacts["dataset"].sha256 != done.artifacts["dataset"].sha256  # scrub is part of the job's key
    bad = _gen_request(world)
    bad.params.update({"scrub": {"email_domain": "drop"}})
    code, details = _code_and_details(lambda: stub.StartGeneration(bad))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "scrub.email_domain" in details


def test_generate_sync_small_call(world):
    request = generator_pb2.GenerateRequest(model=common_pb2.ModelRef(uri=world["model"]), prompts=["Hello", "From:"])
    request.params.update({"sampling": {"n": 2, "max_new_tokens": 4, "temperature": 1.0, "seed": 3}})
    response = _gen_stub(world).Generate(request)
    assert [len(c.texts) for c in response.completions] == [2, 2]


def test_unknown_finetune_method_lists_valid_ones(world):
    stub = finetuner_pb2_grpc.FinetunerServiceStub(world["channels"]["finetuner"])
    request = finetuner_pb2.StartFineTuneRequest(model=common_pb2.ModelRef(uri=world["model"]),
                                                 dataset=common_pb2.ArtifactRef(uri=world["prompts"].uri))
    request.params.update({"method": "qlora9"})
    code, details = _code_and_details(lambda: stub.StartFineTune(request))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "lora" in details and "pissa" in details


def test_finetune_then_attack_the_checkpoint(world):
    ft = finetuner_pb2_grpc.FinetunerServiceStub(world["channels"]["finetuner"])
    request = finetuner_pb2.StartFineTuneRequest(
        model=common_pb2.ModelRef(uri=world["model"]), dataset=common_pb2.ArtifactRef(uri=world["prompts"].uri))
    request.params.update({"method": "lora", "method_config": {"r": 4, "lora_alpha": 8},
                           "train": {"epochs": 2, "learning_rate": 1e-3, "batch_size": 4},
                           "data": {"format": "prompt_continuation"}})
    job = wait_for_job(ft, ft.StartFineTune(request))
    assert {"epoch-1/merged", "epoch-2/merged", "epoch-2/adapter"} <= set(job.artifacts)
    merged = world["store"].fetch(job.artifacts["epoch-2/merged"].uri)
    assert (merged / "model.safetensors").exists() and not list(merged.glob("*.bin"))
    trained = struct_to_dict(job.result)
    compute = trained["compute"]
    assert compute["device_type"] == "cpu" and compute["precision"] == "float32" and compute["peak_memory_bytes"] > 0
    assert compute["tokens_per_second"] == round(trained["summary"]["useful_tokens_per_s"], 1)
    assert {"torch", "transformers", "peft", "accelerate"} <= set(compute["versions"])

    att = attacker_pb2_grpc.AttackerServiceStub(world["channels"]["attacker"])
    attack = attacker_pb2.StartExtractionRequest(
        model=common_pb2.ModelRef(uri=job.artifacts["epoch-2/merged"].uri), targets=world["targets"].uri and
        common_pb2.ArtifactRef(uri=world["targets"].uri), few_shot=common_pb2.ArtifactRef(uri=world["few_shot"].uri),
        perplexity_dataset=common_pb2.ArtifactRef(uri=world["prompts"].uri))
    attack.params.update({"attack": {"templates": ["A", "D"], "temperatures": [0.2, 1.0]}, "perplexity_samples": 4,
                          "perplexity_fields": ["prompt", "continuation"]})  # the paper's utility text
    result = wait_for_job(att, att.StartExtraction(attack))
    perplexity = result.result["perplexity"]
    assert perplexity["texts"] == 4 and perplexity["tokens"] > 4 and 1 < perplexity["heldout"] < 1e6
    counts = result.result["counts"]
    assert set(counts.keys()) == {"A", "D"} and set(counts["A"].keys()) == {"0.2", "1.0"}
    assert counts["D"]["1.0"]["n"] == 2
    assert "jane.doe@enron.com" not in str(result.result)  # PII stays in the artifact
    compute = struct_to_dict(result.result)["compute"]
    assert compute["device_type"] == "cpu" and compute["precision"] == "float32" and compute["peak_memory_bytes"] > 0
    assert compute["tokens_per_second"] is None  # the attack counts hits, not tokens


def test_failed_job_reports_code(world):
    stub = _gen_stub(world)
    # A dataset without the prompt field passes preflight and fails inside the job.
    bad = publish_records(world["store"], [{"nope": 1}], world["store"].uri_for("inputs", "bad"))
    request = _gen_request(world)
    request.dataset.uri = bad.uri
    with pytest.raises(RemoteJobError) as err:
        wait_for_job(stub, stub.StartGeneration(request))
    assert err.value.code == "INVALID_ARGUMENT" and "prompt" in err.value.message


def test_auth_required_but_health_and_reflection_open(world):
    address = world["servers"]["generator"].address
    bare = grpc.insecure_channel(address)
    code, _ = _code_and_details(lambda: generator_pb2_grpc.GeneratorServiceStub(bare).GetJob(
        common_pb2.GetJobRequest(job_id="x")))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    wrong = open_channel(address, "wrong")
    code, _ = _code_and_details(lambda: generator_pb2_grpc.GeneratorServiceStub(wrong).GetJob(
        common_pb2.GetJobRequest(job_id="x")))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    code, _ = _code_and_details(lambda: _gen_stub(world).GetJob(common_pb2.GetJobRequest(job_id="x")))
    assert code == grpc.StatusCode.NOT_FOUND  # authenticated: the job just does not exist
    health = health_pb2_grpc.HealthStub(bare).Check(health_pb2.HealthCheckRequest(service="genleak.v1.GeneratorService"))
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    responses = reflection_pb2_grpc.ServerReflectionStub(bare).ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    names = {s.name for r in responses for s in r.list_services_response.service}
    assert "genleak.v1.GeneratorService" in names and "grpc.health.v1.Health" in names


def test_cancelling_the_follower_cancels_the_remote_job(world):
    from genleak.core.errors import Cancelled
    from genleak.core.progress import Reporter

    stub = _gen_stub(world)
    request = _gen_request(world, temperature=1.0, seed=99)
    request.params.update({"config": {"temperature": 1.0, "seed": 99, "max_new_tokens": 400},
                           "engine": {"batch_size": 1}})  # many small batches: progress events to cancel between
    follower = Reporter()

    def on_update(job):
        if job.progress.done >= 1:
            follower.cancel()
        follower.update("follow", job.progress.done, job.progress.total)

    job = stub.StartGeneration(request)
    with pytest.raises(Cancelled):
        wait_for_job(stub, job, on_update)
    for update in stub.WatchJob(common_pb2.WatchJobRequest(job_id=job.job_id)):
        last = update
    assert last.state == common_pb2.JOB_STATE_CANCELLED


def test_generator_engine_cache_load_list_unload(world):
    stub = _gen_stub(world)
    model = common_pb2.ModelRef(uri=world["model"])
    load = generator_pb2.LoadModelRequest(model=model)
    load.params.update({"engine": {"name": "hf", "dtype": "float32"}})
    loaded = stub.LoadModel(load)
    assert loaded.capacity >= 1 and any(m.engine == "hf" and m.leases == 0 for m in loaded.models)
    assert len(stub.ListModels(generator_pb2.ListModelsRequest()).models) == len(loaded.models)
    after = stub.UnloadModel(generator_pb2.UnloadModelRequest(model=model))
    assert all(not m.model_dir.endswith("model") for m in after.models)
    with pytest.raises(grpc.RpcError) as err:
        stub.LoadModel(generator_pb2.LoadModelRequest(model=common_pb2.ModelRef(uri="/no/such/model")))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
