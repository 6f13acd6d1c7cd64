"""One big job split over the worker replicas: continuation generation and membership-inference scoring.

The controller slices the work into contiguous shards, submits one ordinary job per shard (each
placed on its own replica by the `genleak-shard` call metadata, see genleak.rpc.balancing), waits
for all of them (genleak.rpc.retry.run_job, so a lost replica's shard is resubmitted) and merges
the shard outputs, in order, into what one unsharded job would have produced:

* generation: shard i is the unsharded request with `config.offset`/`limit` set to its slice of
  the prompts. The generator still scrubs every record before slicing, so surrogates are the same
  in every shard. The shards' datasets are concatenated into one dataset artifact. Whether the rows
  equal the unsharded run's depends on the engine: vLLM seeds every prompt's sampler with the seed
  (per prompt: no dependence on the batch; sampled slices equal the whole on vLLM 0.32 CPU); the
  hf engine seeds torch once per job and samples length-sorted batches from one stream, so a shard's
  samples depend on which prompts share its job: deterministic for a given shard count, equal to the
  unsharded run only for greedy decoding.
* membership inference: the controller selects the texts itself (the contract's `select_texts`, as the
  attacker does: min/max words, seeded n_samples), publishes each shard's members and non-members
  (already selected, so the shard jobs select nothing) and asks the attacker to merge the shards
  (StartMembershipMerge): the scores concatenated in the unsharded order, AUC, its bootstrap CI,
  TPR@FPR and PR-AUC computed over them, so the same scores give the same metrics. The non-member
  perplexity is pooled from the shards' perplexities and token counts; held-out perplexity texts all
  go to shard 0.

Shard counts above the number of prompts (texts per side) shrink to it; one shard is the unsharded
job itself, with the same job key.
"""

from __future__ import annotations

from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, Callable


from genleak.controller import stages
from genleak.controller.spec import GeneratorSpec, MembershipSpec
from genleak.core.datasets import load_records, publish_records
from genleak.core.hashing import canonical_json, sha256_bytes
from genleak.core.store import ArtifactStore
from genleak.rpc.balancing import shard_metadata
from genleak.contracts.text_selection import select_texts
from genleak.rpc.convert import params_to_struct, ref_from_proto, ref_to_proto
from genleak.rpc.retry import run_job
from genleak.v1 import attacker_pb2, common_pb2

OnUpdate = Callable[[common_pb2.Job], None]
SCORE_ROW_KEYS = ("side", "row", "n_tokens")


def shard_bounds(n: int, shards: int) -> list[tuple[int, int]]:
    """`shards` contiguous [start, end) slices of n items, sizes differing by at most one; no empty slice."""
    k = max(1, min(shards, n))
    return [(i * n // k, (i + 1) * n // k) for i in range(k)] if n else [(0, 0)]


def run_shards(starts: list[Callable[[], common_pb2.Job]], stub, on_update: OnUpdate | None) -> list[common_pb2.Job]:
    """Run every shard's job at once (each with run_job's retries); the succeeded jobs in shard order.
    The first failure is raised at once (the other shards keep running: their outputs are cached)."""
    pool = ThreadPoolExecutor(max_workers=len(starts), thread_name_prefix="genleak-shard")
    try:
        futures = [pool.submit(run_job, start, stub, _labelled(on_update, i, len(starts)))
                   for i, start in enumerate(starts)]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            if future in done and future.exception() is not None:
                raise future.exception()
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=False)


def _labelled(on_update: OnUpdate | None, index: int, total: int) -> OnUpdate | None:
    if on_update is None:
        return None

    def update(job: common_pb2.Job) -> None:
        labelled = common_pb2.Job()
        labelled.CopyFrom(job)
        labelled.progress.stage = f"shard {index + 1}/{total} {job.progress.stage}".strip()
        on_update(labelled)

    return update


def _group(request: Any, shards: int) -> str:
    """The shard set's identity: the unsharded request and the shard count (placement and merge keys)."""
    return sha256_bytes(request.SerializeToString(deterministic=True) + f"/{shards}".encode())[:24]


# ---- generation ------------------------------------------------------------------------------------------


def generate_dataset(store: ArtifactStore, stub, spec: GeneratorSpec, model_uri: str, source: common_pb2.ArtifactRef,
                     on_update: OnUpdate, scrub: bool = False) -> tuple[common_pb2.ArtifactRef, dict[str, Any]]:
    """stages.generate_dataset over `spec.shards` generation jobs (continuation only)."""
    base = stages.generation_request(spec.params(scrub), model_uri, source)
    n_records = len(load_records(store, ref_from_proto(source), "data.prompts"))
    limit = spec.config.get("limit")
    total = n_records if limit is None else min(int(limit), n_records)
    bounds = shard_bounds(total, spec.shards)
    if spec.task != "continuation" or len(bounds) == 1:
        return stages.generate_dataset(stub, spec, model_uri, source, on_update, scrub)
    group = _group(base, len(bounds))
    requests = [stages.generation_request(spec.params(scrub, offset=start, limit=end - start), model_uri, source)
                for start, end in bounds]
    jobs = run_shards([_starter(stub.StartGeneration, r, group, i) for i, r in enumerate(requests)], stub, on_update)
    records = [row for job in jobs for row in load_records(store, ref_from_proto(job.artifacts["dataset"]))]
    shard_stats = [stages.generation_result(job.result, spec.task) for job in jobs]
    stats = merge_generation_stats(shard_stats)
    stats["shard_jobs"] = [job.job_id for job in jobs]
    key = sha256_bytes(canonical_json([job.artifacts["dataset"].sha256 for job in jobs]).encode())[:32]
    ref = publish_records(store, records, store.uri_for("jobs", "generation-shards", key, "dataset"),
                          meta={"task": spec.task, "shards": len(jobs), "stats": stats,
                                "shard_datasets": [job.artifacts["dataset"].uri for job in jobs]})
    return ref_to_proto(ref), stats


def merge_generation_stats(shards: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts add up; `seconds` is the slowest shard (they run side by side) and the throughput is
    the shards' tokens over it; the scrub's counts are every shard's (each scrubs all records)."""
    merged: dict[str, Any] = {}
    for key in ("n_in", "n_dropped_long", "n_out", "generated_tokens_approx"):
        if all(key in s for s in shards):
            merged[key] = sum(s[key] for s in shards)
    seconds = max(float(s.get("seconds", 0.0)) for s in shards)
    merged["seconds"] = round(seconds, 3)
    merged["tokens_per_second"] = round(merged.get("generated_tokens_approx", 0) / seconds, 1) if seconds > 0 else 0.0
    merged["shards"] = len(shards)
    merged["shard_seconds"] = [s.get("seconds", 0.0) for s in shards]
    for key in ("scrub", "engine"):  # the same in every shard: each scrubs all records, all run one engine spec
        if key in shards[0]:
            merged[key] = shards[0][key]
    return merged


# ---- membership inference --------------------------------------------------------------------------------


def membership(store: ArtifactStore, stub, spec: MembershipSpec, model_uri: str,
               datasets: dict[str, common_pb2.ArtifactRef], reference_uri: str | None,
               on_update: OnUpdate) -> dict[str, Any]:
    """stages.membership over `spec.shards` attacker jobs; the same result keys, plus `shards` and `shard_jobs`."""
    selection = spec.params().selection()
    members = select_texts(load_records(store, ref_from_proto(datasets["members"]), "mia.members"), selection,
                           "members")
    nonmembers = select_texts(load_records(store, ref_from_proto(datasets["nonmembers"]), "mia.nonmembers"),
                              selection, "nonmembers")
    k = min(spec.shards, len(members.texts), len(nonmembers.texts))
    if k <= 1:
        return stages.membership(stub, spec, model_uri, datasets, reference_uri, on_update)
    heldout = None
    if "perplexity" in datasets:  # as the attacker selects it: no word filter, the same sampling
        heldout_selection = selection.model_copy(update={"min_words": 0, "max_words": None})
        heldout = select_texts(load_records(store, ref_from_proto(datasets["perplexity"]), "mia.perplexity_dataset"),
                               heldout_selection, "perplexity_dataset").texts
    # The texts are selected already: each shard job keeps its slice as it is; its own metrics go unused.
    shard_spec = spec.model_copy(update={"text_field": "text", "min_words": 0, "max_words": None, "n_samples": None,
                                         "n_bootstrap": 0})
    base = stages.membership_request(shard_spec, model_uri, datasets, reference_uri)
    group = _group(base, k)
    member_bounds, nonmember_bounds = shard_bounds(len(members.texts), k), shard_bounds(len(nonmembers.texts), k)
    requests = []
    for i in range(k):
        request = attacker_pb2.StartMembershipInferenceRequest()
        request.CopyFrom(base)
        request.members.CopyFrom(_texts_dataset(store, members.texts[slice(*member_bounds[i])]))
        request.nonmembers.CopyFrom(_texts_dataset(store, nonmembers.texts[slice(*nonmember_bounds[i])]))
        request.ClearField("perplexity_dataset")
        if i == 0 and heldout is not None:
            request.perplexity_dataset.CopyFrom(_texts_dataset(store, heldout))
        requests.append(request)
    jobs = run_shards([_starter(stub.StartMembershipInference, r, group, i) for i, r in enumerate(requests)],
                      stub, on_update)
    merge = attacker_pb2.StartMembershipMergeRequest(
        model=common_pb2.ModelRef(uri=model_uri), members=datasets["members"], nonmembers=datasets["nonmembers"],
        params=params_to_struct(spec.params()),
        shards=[attacker_pb2.MembershipShard(scores=job.artifacts["scores"], result=job.result) for job in jobs])
    merged = stages.membership_result(run_job(lambda: stub.StartMembershipMerge(merge), stub, on_update))
    merged.update(shards=len(jobs), shard_jobs=[job.job_id for job in jobs])
    return merged


def _starter(call, request, group: str, index: int) -> Callable[[], common_pb2.Job]:
    return lambda: call(request, metadata=shard_metadata(group, index))


def _texts_dataset(store: ArtifactStore, texts: list[str]) -> common_pb2.ArtifactRef:
    """A {text} dataset, content-addressed (the same slice is the same artifact, so shard jobs stay cached)."""
    records = [{"text": t} for t in texts]
    key = sha256_bytes(canonical_json(records).encode())[:32]
    return ref_to_proto(publish_records(store, records, store.uri_for("jobs", "membership-shards", "texts", key)))
