"""Membership inference through the attacker service over gRPC, on the tiny lab."""

from __future__ import annotations

import json

import grpc
import numpy as np
import pytest

from genleak.app import build_service
from genleak.core.settings import Settings, StoreSettings
from genleak.core.store import ArtifactStore
from genleak.rpc.channels import open_channel, wait_for_job
from genleak.rpc.convert import struct_to_dict
from genleak.rpc.server import start_server
from genleak.v1 import attacker_pb2, attacker_pb2_grpc, common_pb2


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from genleak.compute.threads import torch_threads
    from genleak.lab.publish import ensure_lab

    root = tmp_path_factory.mktemp("mia")
    settings = Settings(store=StoreSettings(root=f"file://{root}/store", cache_dir=root / "cache"))
    store = ArtifactStore(settings.store)
    with torch_threads(2):
        lab = ensure_lab(store, "tiny", 0)
    server = start_server([build_service("attacker", settings, store)])
    channel = open_channel(server.address)
    yield {"store": store, "lab": lab, "stub": attacker_pb2_grpc.AttackerServiceStub(channel)}
    server.stop(grace=0.5)


def _attack(name: str, **config) -> dict:
    return {"name": name, "config": config}


def _request(world, params: dict | None = None, attacks: list | None = None,
             **overrides) -> attacker_pb2.StartMembershipInferenceRequest:
    """Typed references as fields, every setting in the params Struct (genleak.contracts.membership)."""
    lab = world["lab"]
    fields = dict(model=common_pb2.ModelRef(uri=lab["target"].uri),
                  members=common_pb2.ArtifactRef(uri=lab["members"].uri),
                  nonmembers=common_pb2.ArtifactRef(uri=lab["nonmembers"].uri))
    fields.update(overrides)
    request = attacker_pb2.StartMembershipInferenceRequest(**fields)
    request.params.update({"n_samples": 40, "n_bootstrap": 200, "max_tokens": 256, "seed": 1, **(params or {}),
                           **({"attacks": attacks} if attacks is not None else {})})
    return request


def test_mia_job_reports_auc_with_ci_and_publishes_scores_and_roc(world):
    stub, store = world["stub"], world["store"]
    request = _request(world, reference_model=common_pb2.ModelRef(uri=world["lab"]["generator"].uri),
                       attacks=[_attack("loss"), _attack("zlib"), _attack("min_k", k=0.2), _attack("min_k_plus_plus"),
                                _attack("lowercase"), _attack("reference", mode="difference")],
                       perplexity_dataset=common_pb2.ArtifactRef(uri=world["lab"]["nonmembers"].uri))
    job = wait_for_job(stub, stub.StartMembershipInference(request))
    result = struct_to_dict(job.result)
    assert int(result["n_members"]) == 40 and int(result["n_nonmembers"]) == 40
    assert set(result["attacks"]) == {"loss", "zlib", "min_k", "min_k_plus_plus", "lowercase", "reference"}
    loss = result["attacks"]["loss"]
    # The tiny lab target was pretrained on the members: LOSS separates them.
    # 0.598 on the current tiny lab (40 vs 40 texts); the MIA numbers themselves are checked against an
    # independent recomputation elsewhere, this only asks that the tiny target's members stand out.
    assert loss["auc"] > 0.55 and loss["auc_ci_low"] <= loss["auc"] <= loss["auc_ci_high"]
    assert set(loss["tpr_at_fpr"]) == {"0.01", "0.001"}
    assert result["perplexity"]["nonmembers"] > 1 and result["perplexity"]["heldout"] > 1
    compute = result["compute"]  # the hf scorer, in float32 ("auto"), on this machine's CPU
    assert compute["device_type"] == "cpu" and compute["precision"] == "float32" and compute["peak_memory_bytes"] > 0
    assert compute["tokens_per_second"] == result["tokens_per_second"] > 0 and "torch" in compute["versions"]

    rows = [json.loads(line) for line in (store.fetch(job.artifacts["scores"].uri) / "data.jsonl").read_text().splitlines()]
    assert len(rows) == 80 and {r["side"] for r in rows} == {"member", "nonmember"}
    assert all("text" not in r for r in rows)  # texts may hold PII: only scores and source rows are published
    roc = store.fetch(job.artifacts["roc"].uri)
    assert (roc / "roc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    curves = json.loads((roc / "metrics.json").read_text())
    assert curves["loss"]["auc"] == pytest.approx(loss["auc"])

    again = wait_for_job(stub, stub.StartMembershipInference(request))  # same request: the same job
    assert again.job_id == job.job_id and struct_to_dict(again.result)["attacks"]["loss"]["auc"] == loss["auc"]


def test_score_texts_matches_the_job_scorer(world):
    from genleak.attacker.mia import run_attacks, score_texts_hf
    from genleak.core.models import resolve_model_dir

    texts = ["Please send the gas report to the desk by noon.", "hello there, how are the numbers today?"]
    request = attacker_pb2.ScoreTextsRequest(model=common_pb2.ModelRef(uri=world["lab"]["target"].uri), texts=texts)
    request.params.update({"attacks": [_attack("loss"), _attack("min_k", k=0.5)]})
    response = world["stub"].ScoreTexts(request)
    model_dir = resolve_model_dir(world["store"], world["lab"]["target"].uri)
    expected = run_attacks({"loss": None, "min_k": {"k": 0.5}}, score_texts_hf(model_dir, texts))
    for i, row in enumerate(response.texts):
        assert row.n_tokens > 2
        np.testing.assert_allclose([row.scores["loss"], row.scores["min_k"]],
                                   [expected["loss"][i], expected["min_k"][i]], atol=1e-6)


@pytest.mark.parametrize("overrides, code, field", [
    ({"attacks": [_attack("nope")]}, grpc.StatusCode.INVALID_ARGUMENT, "attacks.0.name"),
    ({"attacks": [_attack("min_k", k=3)]}, grpc.StatusCode.INVALID_ARGUMENT, "attacks.0.config.k"),
    ({"attacks": [_attack("reference")]}, grpc.StatusCode.INVALID_ARGUMENT, "reference_model"),
    ({"params": {"min_words": 50, "max_words": 10}}, grpc.StatusCode.INVALID_ARGUMENT, "params"),
    ({"members": common_pb2.ArtifactRef(uri="file:///nowhere/members")}, grpc.StatusCode.NOT_FOUND, "members.uri"),
])
def test_bad_mia_requests_name_the_field(world, overrides, code, field):
    with pytest.raises(grpc.RpcError) as err:
        world["stub"].StartMembershipInference(_request(world, **overrides))
    assert err.value.code() == code and field in err.value.details()
