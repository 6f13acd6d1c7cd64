"""PII detection and the untargeted leakage scan through the attacker service over gRPC, on the tiny lab."""

from __future__ import annotations

import json

import grpc
import pytest

from genleak.app import build_service
from genleak.core.settings import Settings, StoreSettings
from genleak.core.store import ArtifactStore
from genleak.rpc.channels import open_channel, wait_for_job
from genleak.rpc.convert import struct_to_dict
from genleak.rpc.server import start_server
from genleak.v1 import attacker_pb2, attacker_pb2_grpc, common_pb2

SALT = "test-salt"
TEXT = ("Thanks,\nMegan Chang\n212-778-0167\n48764 Howard Forge Apt. 421, Vanessaside, VT 79393\n"
        "FYI, the email address of John Doe is john.doe@example.com.")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from genleak.compute.threads import torch_threads
    from genleak.lab.publish import ensure_lab

    root = tmp_path_factory.mktemp("pii")
    settings = Settings(store=StoreSettings(root=f"file://{root}/store", cache_dir=root / "cache"), pii_salt=SALT)
    store = ArtifactStore(settings.store)
    with torch_threads(2):
        lab = ensure_lab(store, "tiny", 0)
    people = [json.loads(line) for line in (store.fetch(lab["people"]) / "data.jsonl").read_text().splitlines()]
    server = start_server([build_service("attacker", settings, store)])
    channel = open_channel(server.address)
    yield {"store": store, "lab": lab, "people": people, "stub": attacker_pb2_grpc.AttackerServiceStub(channel)}
    server.stop(grace=0.5)


def _ref(world, name: str) -> common_pb2.ArtifactRef:
    return common_pb2.ArtifactRef(uri=world["lab"][name].uri)


def _findings(world, job) -> tuple[list[dict], dict]:
    uri = job.artifacts["findings"].uri
    rows = [json.loads(line) for line in (world["store"].fetch(uri) / "data.jsonl").read_text().splitlines()]
    return rows, world["store"].manifest(uri).meta


def _people_values(world) -> list[str]:
    return [p[k] for p in world["people"] for k in ("name", "email", "phone", "address")]


def test_detect_pii_masks_by_default_and_reveals_on_request(world):
    person = world["people"][0]
    text = f"Please forward the file to {person['name']} at {person['email']}."
    request = attacker_pb2.DetectPIIRequest(
        texts=[TEXT, text], inventory=attacker_pb2.PIIInventory(people=_ref(world, "people")))
    masked = world["stub"].DetectPII(request)
    first = {e.type: e for e in masked.texts[0].entities}
    assert set(first) == {"PERSON", "PHONE_NUMBER", "STREET_ADDRESS", "EMAIL_ADDRESS"}
    assert first["EMAIL_ADDRESS"].masked == "j***@e***.com" and first["PHONE_NUMBER"].masked == "***-***-**67"
    assert all(e.value == "" for t in masked.texts for e in t.entities)  # no raw value without reveal
    assert TEXT[first["EMAIL_ADDRESS"].start:first["EMAIL_ADDRESS"].end] == "john.doe@example.com"
    assert not first["EMAIL_ADDRESS"].real  # not a lab person
    second = {e.type: e for e in masked.texts[1].entities}
    assert second["EMAIL_ADDRESS"].HasField("real") and second["EMAIL_ADDRESS"].real and second["PERSON"].real

    request.params.update({"reveal": True})
    revealed = world["stub"].DetectPII(request)
    values = {e.type: e.value for e in revealed.texts[1].entities}
    assert values == {"PERSON": person["name"], "EMAIL_ADDRESS": person["email"]}
    # the same value gets the same salted id, masked or not
    assert [e.value_id for e in revealed.texts[1].entities] == [e.value_id for e in masked.texts[1].entities]


def _detect(texts: list[str], inventory=None, **params) -> attacker_pb2.DetectPIIRequest:
    """Texts and inventory as typed fields, the analyzer/detection/reveal settings in the params Struct."""
    request = attacker_pb2.DetectPIIRequest(texts=texts, inventory=inventory)
    request.params.update(params)
    return request


def test_detect_pii_without_inventory_leaves_real_unset_and_names_bad_fields(world):
    response = world["stub"].DetectPII(_detect(["mail bob@oneil.net"], analyzer={"nlp_engine": "no_op"}))
    (entity,) = response.texts[0].entities
    assert entity.type == "EMAIL_ADDRESS" and not entity.HasField("real") and entity.masked == "b***@o***.net"
    for analyzer, field in (({"recognizers": {"Nope": True}}, "analyzer.recognizers"),
                            ({"score_threshold": 1.5}, "params.analyzer.score_threshold")):
        with pytest.raises(grpc.RpcError) as err:
            world["stub"].DetectPII(_detect(["x"], analyzer=analyzer))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and field in err.value.details()


def test_corpus_scan_finds_planted_emails_and_phones(world):
    """The bar: Presidio over the lab corpus finds >= 95 % of the planted e-mails and phones."""
    stub = world["stub"]
    request = attacker_pb2.StartPIIScanRequest(
        texts=_ref(world, "members"), inventory=attacker_pb2.PIIInventory(people=_ref(world, "people")),
        finetune=[_ref(world, "prompts")])
    request.params.update({"reveal": True})
    job = wait_for_job(stub, stub.StartPIIScan(request))
    table = struct_to_dict(job.result)["sources"]["texts"]["entities"]
    compute = struct_to_dict(job.result)["compute"]  # no model: only Presidio computed, on the CPU
    assert compute["device_type"] == "cpu" and compute["precision"] is None and compute["peak_memory_bytes"] > 0
    for entity in ("EMAIL_ADDRESS", "PHONE_NUMBER"):
        row = table[entity]
        print(entity, {k: row[k] for k in ("planted", "found", "recall", "detected", "real", "precision")})
        assert row["planted"] > 20 and row["recall"] >= 0.95
        assert 0 < row["precision"] <= 1 and row["real"] <= row["detected"]
        # tuning people's values are in the fine-tuning prompts, eval people's are not
        assert 0 < row["real_not_in_finetune"] < row["real"]
    rows, meta = _findings(world, job)
    assert meta["contains_pii"] is True and all("value" in r for r in rows)


def test_pii_scan_samples_the_tiny_target_and_publishes_masked_findings(world):
    stub, lab = world["stub"], world["lab"]
    request = attacker_pb2.StartPIIScanRequest(
        model=common_pb2.ModelRef(uri=lab["target"].uri),
        inventory=attacker_pb2.PIIInventory(people=_ref(world, "people")), finetune=[_ref(world, "prompts")])
    request.params.update({"samples": {"n_unconditioned": 6, "prompts": {"uri": _ref(world, "prompts").uri},
                                       "n_prompted": 6,
                                       "sampling": {"temperature": 0.7, "max_new_tokens": 64, "seed": 3}}})
    job = wait_for_job(stub, stub.StartPIIScan(request))
    result = struct_to_dict(job.result)
    assert {k: int(v["n_texts"]) for k, v in result["sources"].items()} == {"unconditioned": 6, "prompted": 6}
    for source in result["sources"].values():
        assert set(source["entities"]) == {"EMAIL_ADDRESS", "PHONE_NUMBER", "PERSON", "STREET_ADDRESS"}
        for row in source["entities"].values():
            assert row["real_not_in_finetune"] <= row["real"] <= row["detected"]
    assert result["inventory"]["source"] == "people" and result["masked"] is True
    compute = result["compute"]  # the hf engine that sampled, in this process
    assert compute["device_type"] == "cpu" and compute["precision"] == "float32" and compute["peak_memory_bytes"] > 0
    rows, meta = _findings(world, job)
    assert meta["contains_pii"] is False and "samples" not in job.artifacts
    assert rows, "the tiny target writes mail headers, so some PII-like spans are detected"
    assert {r["source"] for r in rows} <= {"unconditioned", "prompted"}
    raw = (world["store"].fetch(job.artifacts["findings"].uri) / "data.jsonl").read_text()
    assert not any(value in raw for value in _people_values(world))  # masked: no real value in the artifact
    assert all("value" not in r and r["masked"] and len(r["value_id"]) == 16 for r in rows)

    again = stub.StartPIIScan(request)  # same request: the same job
    assert again.job_id == job.job_id


@pytest.mark.parametrize("request_fields, code, field", [
    ({}, grpc.StatusCode.INVALID_ARGUMENT, "model"),
    ({"texts": common_pb2.ArtifactRef(uri="file:///nowhere/texts")}, grpc.StatusCode.NOT_FOUND, "texts.uri"),
    ({"texts": common_pb2.ArtifactRef(uri="file:///x"), "inventory": attacker_pb2.PIIInventory()},
     grpc.StatusCode.INVALID_ARGUMENT, "inventory"),
])
def test_bad_scan_requests_name_the_field(world, request_fields, code, field):
    with pytest.raises(grpc.RpcError) as err:
        world["stub"].StartPIIScan(attacker_pb2.StartPIIScanRequest(**request_fields))
    assert err.value.code() == code and field in err.value.details()


def test_detect_pii_in_several_processes_matches_one(world):
    texts = [TEXT, *(f"Reach {p['name']} at {p['phone']} or {p['email']}." for p in world["people"][:30])]
    one, two = (world["stub"].DetectPII(_detect(texts, detection={"n_process": n, "batch_size": 8})) for n in (1, 2))
    assert one == two and sum(len(t.entities) for t in one.texts) >= 3 * 30


def test_user_data_inventory_comes_from_presidio_over_the_private_corpus(world):
    """No people list: the inventory is what the analyzer finds in the private corpus (the members)."""
    stub = world["stub"]
    request = attacker_pb2.StartPIIScanRequest(
        texts=_ref(world, "nonmembers"), inventory=attacker_pb2.PIIInventory(corpus=_ref(world, "members")))
    request.params.update({"analyzer": {"nlp_engine": "no_op"}})
    result = struct_to_dict(wait_for_job(stub, stub.StartPIIScan(request)).result)
    assert result["inventory"]["source"] == "corpus" and result["inventory"]["sizes"]["EMAIL_ADDRESS"] > 20
    emails = result["sources"]["texts"]["entities"]["EMAIL_ADDRESS"]
    assert "recall" not in emails  # no planted ground truth without a people list
    assert 0 < emails["real"] <= emails["detected"]  # non-members mail the same people

    person = world["people"][-1]
    inventory = attacker_pb2.PIIInventory(corpus=_ref(world, "members"), people=_ref(world, "people"))
    response = stub.DetectPII(_detect([f"write to {person['email']} or nobody@example.org"], inventory=inventory,
                                      analyzer={"nlp_engine": "no_op"}))
    assert [(e.masked, e.real) for e in response.texts[0].entities] == [
        (f"{person['email'][0]}***@{person['email'].split('@')[1][0]}***.{person['email'].rsplit('.', 1)[1]}", True),
        ("n***@e***.org", False)]
