"""Sharding pieces without servers: slices, spec validation, shard placement, continuation offset, stats merge."""

from __future__ import annotations

import pytest

from genleak.controller import stages
from genleak.controller.sharding import merge_generation_stats, shard_bounds
from genleak.controller.spec import GeneratorSpec, load_spec_text
from genleak.core.errors import InvalidSpec
from genleak.generator.servicer import generation_spec
from genleak.generator.tasks.continuation import ContinuationConfig, generate_continuations
from genleak.rpc.balancing import JobAffinityChannel, shard_metadata
from genleak.v1 import common_pb2


def test_shard_bounds_are_contiguous_balanced_and_never_empty():
    assert shard_bounds(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert shard_bounds(4, 4) == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert shard_bounds(2, 8) == [(0, 1), (1, 2)]  # more shards than items: one item each
    assert shard_bounds(7, 1) == [(0, 7)]
    assert shard_bounds(0, 3) == [(0, 0)]
    for n, k in ((300, 7), (1000, 16), (5, 2)):
        bounds = shard_bounds(n, k)
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
        assert max(e - s for s, e in bounds) - min(e - s for s, e in bounds) <= 1


def test_shards_are_validated_and_self_instruct_takes_none():
    spec = load_spec_text("name: x\ngenerator: {shards: 4}\nmia: {shards: 3}\n")
    assert spec.generator.shards == 4 and spec.mia.shards == 3
    assert load_spec_text("name: x\n").generator.shards == 1 and load_spec_text("name: x\n").mia.shards == 1
    with pytest.raises(InvalidSpec) as err:  # membership defaults to self_instruct
        load_spec_text("name: x\nscenario: membership\ngenerator: {shards: 2}\n")
    assert err.value.field == "generator.shards" and "sequential" in err.value.message
    with pytest.raises(InvalidSpec) as err:
        load_spec_text("name: x\ngenerator: {task: self_instruct, shards: 2}\n")
    assert err.value.field == "generator.shards"
    assert load_spec_text("name: x\nscenario: membership\ngenerator: {task: continuation, shards: 2}\n")
    for bad in ("generator: {shards: 0}", "mia: {shards: 0}", "generator: {shards: two}"):
        with pytest.raises(InvalidSpec) as err:
            load_spec_text(f"name: x\n{bad}\n")
        assert err.value.field in ("generator.shards", "mia.shards")


def test_one_shard_keeps_the_generation_job_key():
    """shards: 1 sends exactly the request of before (no offset): the same job key, so cached jobs stay valid."""
    source = common_pb2.ArtifactRef(uri="file:///d")
    request = stages.generation_request(GeneratorSpec(model="/m", config={"limit": 5}).params(), "/m", source)
    assert "offset" not in request.params["config"]
    spec = generation_spec(request)
    assert "offset" not in spec.config
    request.params["config"].update({"offset": 0})  # an explicit offset is another request (and key), even at 0
    assert generation_spec(request).spec_hash() != spec.spec_hash()


class _Engine:
    def generate(self, prompts, sampling, reporter=None):
        return [[f"<{p.strip()}>"] for p in prompts]

    def close(self):
        pass


def test_continuation_offset_selects_a_slice_and_errors_name_the_absolute_record():
    records = [{"prompt": f"p{i}"} for i in range(7)]
    whole, _ = generate_continuations(_Engine(), len, records, ContinuationConfig(max_new_tokens=2))
    parts = []
    for start, end in shard_bounds(7, 3):
        out, stats = generate_continuations(_Engine(), len, records,
                                            ContinuationConfig(max_new_tokens=2, offset=start, limit=end - start))
        assert stats["n_in"] == end - start
        parts += out
    assert parts == whole
    tail, _ = generate_continuations(_Engine(), len, records, ContinuationConfig(offset=5))
    assert [r["prompt"] for r in tail] == ["p5 ", "p6 "]
    with pytest.raises(InvalidSpec, match=r"records\[4\]"):
        generate_continuations(_Engine(), len, records[:4] + [{"text": "x"}], ContinuationConfig(offset=3))


class _Replica:
    def close(self):
        pass


def test_shard_metadata_places_n_shards_on_n_replicas_and_repeats_on_the_same_one():
    ips = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    channel = JobAffinityChannel("dns:///generator:50051", lambda address, host: _Replica(),
                                 resolve=lambda host, port: list(ips))
    request = common_pb2.ArtifactRef(uri="file:///same-request")
    for group in ("g1", "g2", "g3"):
        placed = [channel.route("/svc/Start", request, shard_metadata(group, i))[0] for i in range(3)]
        assert len(set(placed)) == 3  # three shards, three replicas (hashing alone would collide often)
        assert placed == [channel.route("/svc/Start", request, shard_metadata(group, i))[0] for i in range(3)]
        assert channel.route("/svc/Start", request, shard_metadata(group, 3))[0] == placed[0]  # wraps around
    firsts = {channel.route("/svc/Start", request, shard_metadata(f"group-{g}", 0))[0] for g in range(12)}
    assert len(firsts) > 1  # different shard sets start on different replicas
    unsharded = channel.route("/svc/Start", request)[0]
    assert channel.route("/svc/Start", request, [("other", "x")])[0] == unsharded  # other metadata: hashing as before


def test_generation_stats_merge():
    shards = [{"n_in": 4, "n_dropped_long": 1, "n_out": 3, "generated_tokens_approx": 30, "seconds": 2.0,
               "tokens_per_second": 15.0, "scrub": {"replaced": {"PERSON": 9}}},
              {"n_in": 3, "n_dropped_long": 0, "n_out": 3, "generated_tokens_approx": 30, "seconds": 3.0,
               "tokens_per_second": 10.0, "scrub": {"replaced": {"PERSON": 9}}}]
    merged = merge_generation_stats(shards)
    assert merged == {"n_in": 7, "n_dropped_long": 1, "n_out": 6, "generated_tokens_approx": 60, "seconds": 3.0,
                      "tokens_per_second": 20.0, "shards": 2, "shard_seconds": [2.0, 3.0],
                      "scrub": {"replaced": {"PERSON": 9}}}
