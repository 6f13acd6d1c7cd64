"""The StartMembershipMerge job: one membership-inference result from the jobs of its shards.

A controller that shards one model's scoring (mia.shards > 1) selects the texts with the contract's
`select_texts`, sends each shard job a contiguous slice of them (already selected, so the shard
selects nothing) and asks for this merge: the shards' score rows are concatenated in shard order,
which is the unsharded order, and AUC, its bootstrap interval, TPR@FPR and PR-AUC are computed here
over the merged scores, so the same scores give the same metrics as one job. The non-member
perplexity is pooled over the shards by tokens; the held-out perplexity is shard 0's (it scores all
held-out texts), and so is the compute record (every shard runs the same engine spec; the merge itself
is a little numpy on the attacker's CPU).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from pydantic import Field

from genleak.attacker.mia.evaluate import MIAOutcome
from genleak.attacker.mia.job import mia_summary, publish_mia_outputs
from genleak.attacker.mia.metrics import compute_metrics
from genleak.contracts.membership import MembershipParams
from genleak.contracts.text_selection import select_texts
from genleak.core.datasets import load_records, require_dataset
from genleak.core.jobs import JobOutput
from genleak.core.progress import Reporter
from genleak.core.specs import ArtifactSpec, ModelSpec, Spec
from genleak.core.store import ArtifactRef, ArtifactStore

MERGE_STAGE = "merge"
ROW_KEYS = ("side", "row", "n_tokens")  # the other keys of a score row are attack names


class ShardOutput(Spec):
    """One shard job's outputs: its `scores` artifact and its result (a MembershipJobResult, NaN allowed)."""

    scores: ArtifactSpec
    result: dict[str, Any]


class MIAMergeJobSpec(MembershipParams):
    """The unsharded job's params and texts, plus the shards' outputs in shard order."""

    model: ModelSpec
    members: ArtifactSpec
    nonmembers: ArtifactSpec
    shards: list[ShardOutput] = Field(min_length=1, description="Every shard's outputs, in shard order")


def preflight_merge(store: ArtifactStore, spec: MIAMergeJobSpec) -> None:
    require_dataset(store, spec.members.uri, "members.uri")
    require_dataset(store, spec.nonmembers.uri, "nonmembers.uri")
    for i, shard in enumerate(spec.shards):
        require_dataset(store, shard.scores.uri, f"shards.{i}.scores.uri")


def run_membership_merge(store: ArtifactStore, spec: MIAMergeJobSpec, root: str, reporter: Reporter) -> JobOutput:
    selection = spec.selection()
    members = select_texts(load_records(store, _ref(spec.members), "members"), selection, "members")
    nonmembers = select_texts(load_records(store, _ref(spec.nonmembers), "nonmembers"), selection, "nonmembers")
    reporter.update(MERGE_STAGE, 0, len(spec.shards), "reading the shards' scores")
    shard_rows = [load_records(store, _ref(shard.scores), f"shards.{i}.scores") for i, shard in enumerate(spec.shards)]
    results = [shard.result for shard in spec.shards]
    outcome = merge_scores(spec, shard_rows, results, with_heldout="heldout" in results[0].get("perplexity", {}))
    reporter.update(MERGE_STAGE, len(spec.shards), len(spec.shards), "metrics computed")
    artifacts = publish_mia_outputs(store, outcome, members, nonmembers, root, spec.model.uri)
    return JobOutput(artifacts=artifacts, result=mia_summary(results[0]["engine"], outcome, members, nonmembers,
                                                             results[0].get("compute")))


def merge_scores(params: MembershipParams, shard_rows: list[list[dict[str, Any]]], results: list[dict[str, Any]],
                 with_heldout: bool = False) -> MIAOutcome:
    """The MIAOutcome of the shards' score rows (in shard order) and results: the metrics over the merged
    scores, the non-member perplexity pooled by tokens."""
    rows: dict[str, list[dict[str, Any]]] = {"member": [], "nonmember": []}
    nll, predicted = 0.0, 0  # pooled non-member perplexity: sum of -log p and of scored tokens
    for scored, result in zip(shard_rows, results):
        tokens = sum(max(int(r["n_tokens"]) - 1, 0) for r in scored if r["side"] == "nonmember")
        ppl = result["perplexity"]["nonmembers"]
        if tokens and ppl is not None and math.isfinite(ppl):
            nll, predicted = nll + math.log(ppl) * tokens, predicted + tokens
        for side in rows:  # a shard's rows are in its input order: concatenating keeps the unsharded order
            rows[side] += sorted((r for r in scored if r["side"] == side), key=lambda r: r["row"])
    names = [a.name for a in params.attacks] or [k for k in (rows["member"] or [{}])[0] if k not in ROW_KEYS]
    member_scores = {n: np.asarray([r[n] for r in rows["member"]], dtype=np.float64) for n in names}
    nonmember_scores = {n: np.asarray([r[n] for r in rows["nonmember"]], dtype=np.float64) for n in names}
    started = time.perf_counter()
    metrics = {n: compute_metrics(member_scores[n], nonmember_scores[n], params.fprs, params.n_bootstrap, params.seed)
               for n in names}
    seconds: dict[str, float] = {}
    for result in results:
        for key, value in result.get("seconds", {}).items():
            if key.startswith("score"):
                seconds[key] = round(seconds.get(key, 0.0) + value, 3)
    seconds["metrics"] = round(time.perf_counter() - started, 3)
    return MIAOutcome(
        metrics=metrics, member_scores=member_scores, nonmember_scores=nonmember_scores,
        member_tokens=[int(r["n_tokens"]) for r in rows["member"]],
        nonmember_tokens=[int(r["n_tokens"]) for r in rows["nonmember"]],
        nonmember_perplexity=math.exp(nll / predicted) if predicted else float("nan"),
        heldout_perplexity=results[0]["perplexity"].get("heldout") if with_heldout else None,
        seconds=seconds, tokens_scored=int(sum(r["tokens_scored"] for r in results)))


def _ref(spec: ArtifactSpec) -> ArtifactRef:
    return ArtifactRef(spec.uri, spec.sha256, "dataset")
