"""One big job sharded over replicas: two generator and two attacker replicas (real servers on
127.0.0.1 and 127.0.0.2, one port each pair) behind job-affine `dns:///` channels, as the controller
sees a headless Service; the controller's sharded stages against its unsharded ones."""

from __future__ import annotations

import json

import grpc
import pytest

from genleak.app import build_service
from genleak.controller import sharding, stages
from genleak.controller.clients import ServiceClients
from genleak.controller.runner import ExperimentRunner
from genleak.controller.spec import GeneratorSpec, MembershipSpec, load_spec_text
from genleak.core.datasets import load_records, publish_records
from genleak.core.progress import NULL_REPORTER
from genleak.core.settings import Settings, StoreSettings
from genleak.core.store import ArtifactStore
from genleak.engines.probe_model import build_tiny_model
from genleak.compute.threads import torch_threads
from genleak.rpc.balancing import JobAffinityChannel
from genleak.rpc.channels import open_channel
from genleak.rpc.convert import dict_to_struct, ref_to_proto
from genleak.rpc.server import start_server
from genleak.v1 import attacker_pb2_grpc, common_pb2, generator_pb2_grpc

IPS = ("127.0.0.1", "127.0.0.2")
FIRST = "Carole Louise Kate Vince Sara Mary Jeff John".split()
LAST = "Dasovich Kitchen Kaminski Shackleton Lay Skilling Allen Beck".split()


def _prompt(i: int) -> str:
    first, last = FIRST[i % 8], LAST[(i * 3) % 8]
    return f"From: {first} {last} [mailto: {first.lower()}.{last.lower()}@enron.com] Sent: meeting {i} " + \
        "please send the gas report " * (1 + i % 3)


def _text(i: int, side: str) -> str:
    words = "the price of gas contract deal market call today tomorrow thanks regards".split()
    body = " ".join(words[(i + j) % len(words)].title() if (i + j) % 3 == 0 else words[(i + j) % len(words)]
                    for j in range(3 + (i * 7) % 23))
    return f"{side.title()} note {i}: {body}"  # mixed case: the lowercase attack compares two different texts


def _replicas(name: str, settings: Settings, store: ArtifactStore) -> list:
    first = start_server([build_service(name, settings, store)], host=IPS[0], port=0)
    try:
        second = start_server([build_service(name, settings, store)], host=IPS[1], port=first.port)
    except OSError:
        first.stop(grace=0)
        pytest.skip("127.0.0.2 is not bindable here")
    return [first, second]


def _affine(port: int) -> JobAffinityChannel:
    return JobAffinityChannel(f"dns:///genleak-replicas:{port}", lambda address, host: open_channel(address),
                              resolve=lambda host, p: list(IPS))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    settings = Settings(store=StoreSettings(root=f"file://{root}/store", cache_dir=root / "cache"))
    store = ArtifactStore(settings.store)
    with torch_threads(2):
        model = build_tiny_model(root / "model", arch="gpt_neox")
        reference = build_tiny_model(root / "reference", arch="llama", seed=1)
    prompts = publish_records(store, [{"doc_id": f"d{i}", "prompt": _prompt(i)} for i in range(11)],
                              store.uri_for("inputs", "prompts"))
    members = publish_records(store, [{"text": _text(i, "member")} for i in range(23)], store.uri_for("inputs", "m"))
    nonmembers = publish_records(store, [{"text": _text(i, "other")} for i in range(19)], store.uri_for("inputs", "n"))
    heldout = publish_records(store, [{"text": _text(i, "held")} for i in range(9)], store.uri_for("inputs", "h"))
    generators = _replicas("generator", settings, store)
    attackers = _replicas("attacker", settings, store)
    gen_channel, att_channel = _affine(generators[0].port), _affine(attackers[0].port)
    yield {"store": store, "model": str(model), "reference": str(reference), "prompts": ref_to_proto(prompts),
           "mia": {"members": ref_to_proto(members), "nonmembers": ref_to_proto(nonmembers),
                   "perplexity": ref_to_proto(heldout)},
           "generator": generator_pb2_grpc.GeneratorServiceStub(gen_channel),
           "attacker": attacker_pb2_grpc.AttackerServiceStub(att_channel),
           "channels": (gen_channel, att_channel), "ports": {"generator": generators[0].port,
                                                            "attacker": attackers[0].port}}
    for channel in (gen_channel, att_channel):
        channel.close()
    for server in generators + attackers:
        server.stop(grace=0.5)


def _owners(world, service: str, job_ids: list[str]) -> list[str]:
    """Which replica (IP) knows each job: jobs live in the memory of the replica that ran them."""
    owners = []
    for job_id in job_ids:
        found = []
        for ip in IPS:
            with open_channel(f"{ip}:{world['ports'][service]}") as channel:
                stub = (generator_pb2_grpc.GeneratorServiceStub if service == "generator"
                        else attacker_pb2_grpc.AttackerServiceStub)(channel)
                try:
                    stub.GetJob(common_pb2.GetJobRequest(job_id=job_id), timeout=10)
                    found.append(ip)
                except grpc.RpcError as exc:
                    assert exc.code() == grpc.StatusCode.NOT_FOUND
        assert len(found) == 1, (job_id, found)
        owners.append(found[0])
    return owners


def _generate(world, shards: int, scrub: bool = False, **sampling):
    spec = GeneratorSpec(model=world["model"], shards=shards, config={"limit": 10},
                         sampling={"max_new_tokens": 6, **sampling})
    run = sharding.generate_dataset if shards > 1 else (lambda store, *a, **k: stages.generate_dataset(*a, **k))
    ref, stats = run(world["store"], world["generator"], spec, world["model"], world["prompts"], None, scrub=scrub)
    return load_records(world["store"], ref.uri), stats


def test_sharded_greedy_generation_runs_on_both_replicas_and_equals_the_unsharded_dataset(world):
    whole, whole_stats = _generate(world, 1, temperature=0.0)
    rows, stats = _generate(world, 3, temperature=0.0)
    assert rows == whole and len(rows) == 10  # limit 10 of 11 prompts, in order: 4 + 3 + 3
    assert [r["doc_id"] for r in rows] == [f"d{i}" for i in range(10)]
    assert stats["shards"] == 3 and stats["n_in"] == whole_stats["n_in"] == 10 and stats["n_out"] == 10
    assert set(_owners(world, "generator", stats["shard_jobs"])) == set(IPS)
    again, again_stats = _generate(world, 3, temperature=0.0)  # same shard jobs: answered, same merged artifact
    assert again == rows and again_stats["shard_jobs"] == stats["shard_jobs"]


def test_sampled_hf_generation_is_deterministic_per_shard_count_but_not_equal_to_unsharded(world):
    whole, _ = _generate(world, 1, temperature=0.75, top_k=100, seed=3)
    two, stats = _generate(world, 2, temperature=0.75, top_k=100, seed=3)
    assert [r["prompt"] for r in two] == [r["prompt"] for r in whole]
    # hf seeds torch once per job and samples batch after batch from that stream: shard 2 starts a new
    # stream, so its samples differ from the unsharded job's (vLLM seeds each prompt: no such effect).
    assert [r["generation"] for r in two] != [r["generation"] for r in whole]
    # Each shard is exactly an unsharded job over its slice (its own offset/limit request).
    spec = GeneratorSpec(model=world["model"], config={"limit": 10},
                         sampling={"max_new_tokens": 6, "temperature": 0.75, "top_k": 100, "seed": 3})
    first_half = stages.generation_request(spec.params(offset=5, limit=5), world["model"], world["prompts"])
    from genleak.rpc.retry import run_job

    job = run_job(lambda: world["generator"].StartGeneration(first_half), world["generator"])
    assert load_records(world["store"], job.artifacts["dataset"].uri) == two[5:]
    assert job.job_id == stats["shard_jobs"][1]


def test_sharded_scrubbed_generation_scrubs_every_record_before_slicing(world):
    whole, whole_stats = _generate(world, 1, scrub=True, temperature=0.0)
    rows, stats = _generate(world, 2, scrub=True, temperature=0.0)
    assert rows == whole  # the same surrogates in both shards as in one job
    assert not any("Dasovich" in r["prompt"] for r in rows)
    assert stats["scrub"]["replaced"] == whole_stats["scrub"]["replaced"]


def _mia_spec(**overrides) -> MembershipSpec:
    fields = dict(attacks={"loss": {}, "zlib": {}, "min_k": {"k": 0.2}, "min_k_plus_plus": {"k": 0.2},
                           "lowercase": {}, "reference": {}},
                  n_samples=17, min_words=7, max_words=20, max_tokens=64,
                  n_bootstrap=200, seed=5)
    fields.update(overrides)
    return MembershipSpec(**fields)


def _by_row(world, uri: str) -> list[dict]:
    return sorted(load_records(world["store"], uri), key=lambda r: (r["side"], r["row"]))


def _curves(world, result: dict) -> dict:
    return json.loads((world["store"].fetch(result["roc_uri"]) / "metrics.json").read_text())


def _both(world, **overrides) -> tuple[dict, dict]:
    datasets = world["mia"]
    whole = stages.membership(world["attacker"], _mia_spec(**overrides), world["model"], datasets,
                              world["reference"], None)
    merged = sharding.membership(world["store"], world["attacker"], _mia_spec(shards=3, **overrides), world["model"],
                                 datasets, world["reference"], None)
    assert merged["shards"] == 3 and set(_owners(world, "attacker", merged["shard_jobs"])) == set(IPS)
    for key in ("n_members", "n_nonmembers", "dropped_too_short", "tokens_scored", "engine"):
        assert merged[key] == whole[key], key
    assert merged["n_members"] == 17 and merged["dropped_too_short"]["members"] > 0
    return whole, merged


def test_sharded_membership_inference_with_per_text_scoring_is_the_unsharded_run_bit_for_bit(world):
    """Scored one text per forward pass (engine.batch_size 1), a text's scores do not depend on
    which texts share its job: the merged scores, AUC, bootstrap CI, TPR@FPR, PR-AUC, curves and
    perplexities equal the unsharded job's exactly."""
    whole, merged = _both(world, engine={"batch_size": 1})
    assert _by_row(world, merged["scores_uri"]) == _by_row(world, whole["scores_uri"])
    assert merged["attacks"] == whole["attacks"]
    assert _curves(world, merged) == _curves(world, whole)
    assert merged["perplexity"]["heldout"] == whole["perplexity"]["heldout"]
    assert merged["perplexity"]["nonmembers"] == pytest.approx(whole["perplexity"]["nonmembers"], rel=1e-12)


def test_sharded_membership_inference_with_batched_scoring_moves_scores_by_float_noise_only(world):
    """Batched (the default), a text's padded batch differs between the sharded and the unsharded
    job, which moves float32 log-probs by ~1e-7 (as changing engine.batch_size does; Min-K%++ divides
    by sigma and moves most, ~1e-6): the scores agree to 1e-5, their ranking is the same here, and so
    are every attack's metrics."""
    whole, merged = _both(world)
    ours, theirs = _by_row(world, merged["scores_uri"]), _by_row(world, whole["scores_uri"])
    names = list(_mia_spec().attacks)
    keys = lambda rows: [(r["side"], r["row"], r["n_tokens"]) for r in rows]  # noqa: E731
    assert keys(ours) == keys(theirs)
    for name in names:
        assert [r[name] for r in ours] == pytest.approx([r[name] for r in theirs], rel=1e-5, abs=1e-6)
        rank = lambda rows: sorted(range(len(rows)), key=lambda i: rows[i][name])  # noqa: E731
        assert rank(ours) == rank(theirs), name
    assert merged["attacks"] == whole["attacks"]
    assert merged["perplexity"]["heldout"] == pytest.approx(whole["perplexity"]["heldout"], rel=1e-6)


def test_the_merge_turns_the_same_scores_into_the_same_metrics(world):
    """The attacker's merge over one job's own score rows, cut into three shards, reproduces that
    job's metrics exactly: same scores, same AUC, CI, TPR@FPR and PR-AUC."""
    from genleak.contracts.text_selection import SelectedTexts
    from genleak.attacker.mia.job import mia_summary
    from genleak.attacker.mia.merge import merge_scores

    spec = _mia_spec()
    whole = stages.membership(world["attacker"], spec, world["model"], world["mia"], world["reference"], None)
    rows = load_records(world["store"], whole["scores_uri"])
    # Six pieces: the members in three slices, then the non-members in three.
    cut = [[r for r in rows if r["side"] == side][a:b] for side in ("member", "nonmember")
           for a, b in sharding.shard_bounds(sum(r["side"] == side for r in rows), 3)]
    results = [{"perplexity": whole["perplexity"], "seconds": {}, "tokens_scored": 0}] * len(cut)
    outcome = merge_scores(spec.params(), cut, results)
    side = lambda s: SelectedTexts([""] * sum(r["side"] == s for r in rows), [], 0, 0)  # noqa: E731
    summary = stages.membership_result_dict(dict_to_struct(mia_summary("hf", outcome, side("member"), side("nonmember"))))
    assert summary["attacks"] == whole["attacks"]
    assert outcome.nonmember_perplexity == pytest.approx(whole["perplexity"]["nonmembers"], rel=1e-12)


def test_more_shards_than_texts_shrinks_and_one_shard_is_the_unsharded_job(world):
    datasets = {k: v for k, v in world["mia"].items() if k != "perplexity"}
    spec = _mia_spec(attacks={"loss": {}}, n_samples=3, n_bootstrap=10)
    merged = sharding.membership(world["store"], world["attacker"], spec.model_copy(update={"shards": 50}),
                                 world["model"], datasets, None, None)
    assert merged["shards"] == 3 and merged["n_members"] == 3
    single = sharding.membership(world["store"], world["attacker"], spec.model_copy(update={"shards": 1}),
                                 world["model"], datasets, None, None)
    plain = stages.membership(world["attacker"], spec, world["model"], datasets, None, None)
    assert "shards" not in single and single["scores_uri"] == plain["scores_uri"]  # the same job, same key


def test_the_runner_shards_membership_inference_when_the_spec_asks(world):
    spec = load_spec_text(f"""
name: sharded
scenario: membership
lab: null
target: {world['model']}
generator: {{model: {world['model']}}}
data: {{prompts: {world['prompts'].uri}}}
conditions: [base]
mia: {{members: {world['mia']['members'].uri}, nonmembers: {world['mia']['nonmembers'].uri},
      attacks: {{loss: {{}}, zlib: {{}}}}, n_samples: 12, n_bootstrap: 50, max_tokens: 64, shards: 2}}
""")
    clients = ServiceClients(generator=world["generator"], finetuner=None, attacker=world["attacker"], channels=())
    outcome = ExperimentRunner(clients, lambda *a: ({}, {}), world["store"]).run(spec, NULL_REPORTER)
    [attack] = outcome["attacks"]
    assert attack["condition"] == "base" and attack["shards"] == 2 and attack["n_members"] == 12
    unsharded = stages.membership(world["attacker"], spec.mia, world["model"],
                                  {k: world["mia"][k] for k in ("members", "nonmembers")}, None, None)
    assert attack["attacks"] == unsharded["attacks"]


def test_the_runner_shards_continuation_generation_when_the_spec_asks(world):
    from genleak.controller.runner import StageClock, _StageProgress

    spec = load_spec_text(f"""
name: sharded-generation
scenario: membership
lab: null
target: {world['model']}
generator: {{model: {world['model']}, task: continuation, shards: 2, config: {{limit: 10}},
            sampling: {{temperature: 0.0, max_new_tokens: 6}}}}
data: {{prompts: {world['prompts'].uri}}}
mia: {{members: {world['mia']['members'].uri}, nonmembers: {world['mia']['nonmembers'].uri}}}
conditions: [generated]
""")
    clients = ServiceClients(generator=world["generator"], finetuner=None, attacker=world["attacker"], channels=())
    runner = ExperimentRunner(clients, lambda *a: ({}, {}), world["store"])
    generation: dict = {}
    inputs = {"generator": world["model"], "generation_source": world["prompts"]}
    ref = runner._generate(spec, inputs, "generated", _StageProgress(NULL_REPORTER, 1), StageClock(), generation)
    stats = generation["generated"]["stats"]
    assert stats["shards"] == 2 and stats["n_out"] == 10 and generation["generated"]["dataset"] == ref.uri
    unsharded, _ = _generate(world, 1, temperature=0.0)
    assert load_records(world["store"], ref.uri) == unsharded
