"""The paper's continuation recipe over a real tiny model (hf engine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from genleak.core.errors import InvalidSpec
from genleak.core.progress import Reporter
from genleak.engines import EngineConfig, create_engine
from genleak.engines.probe_model import build_tiny_model
from genleak.compute.threads import torch_threads
from genleak.generator.tasks import ContinuationConfig, generate_continuations, get_task

RECORDS = [
    {"doc_id": "d0", "prompt": "the email address of John Smith is", "continuation": "ignored"},
    {"doc_id": "d1", "prompt": "please send the report"},
    {"doc_id": "d2", "prompt": " ".join(["gas price"] * 40)},  # long: dropped at a low token limit
    {"doc_id": "d3", "prompt": "thanks"},
]


def words(text: str) -> int:
    return len(text.split())


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "llama")


@pytest.fixture(scope="module")
def engine(tiny_dir: Path):
    engine = create_engine(tiny_dir, EngineConfig(name="hf", batch_size=4))
    yield engine
    engine.close()


def small(**kw) -> ContinuationConfig:
    return ContinuationConfig(max_new_tokens=6, **kw)


def test_defaults_are_the_papers():
    sampling = ContinuationConfig().sampling()
    assert (sampling.temperature, sampling.top_k, sampling.top_p) == (0.75, 100, 1.0)
    assert (sampling.max_new_tokens, sampling.n) == (1000, 1)
    assert ContinuationConfig().max_prompt_tokens == 2048


def test_output_fields_and_prompt_kept(engine):
    out, stats = generate_continuations(engine, words, RECORDS, small())
    assert [r["doc_id"] for r in out] == ["d0", "d1", "d2", "d3"]
    for rec, src in zip(out, RECORDS):
        assert set(rec) == {"doc_id", "prompt", "generation", "text"}
        assert rec["prompt"] == src["prompt"] + " "
        assert rec["text"] == rec["prompt"] + rec["generation"]
    assert stats["n_in"] == stats["n_out"] == 4 and stats["n_dropped_long"] == 0
    assert stats["generated_tokens_approx"] >= 0 and stats["seconds"] > 0


def test_generation_only_and_no_trailing_space(engine):
    out, _ = generate_continuations(engine, words, RECORDS[:1], small(keep_prompt=False, add_trailing_space=False))
    assert out[0]["prompt"] == RECORDS[0]["prompt"]
    assert out[0]["text"] == out[0]["generation"]


def test_long_prompts_dropped_and_counted(engine, tiny_dir):
    # The paper keeps prompts of fewer than max_prompt_tokens tokens.
    out, stats = generate_continuations(engine, words, RECORDS, small(max_prompt_tokens=80))
    assert [r["doc_id"] for r in out] == ["d0", "d1", "d3"]
    assert stats["n_dropped_long"] == 1 and stats["n_out"] == 3
    # Counting with the model's own tokenizer (model folder instead of a function).
    _, stats = generate_continuations(engine, tiny_dir, RECORDS, small(max_prompt_tokens=30))
    assert stats["n_dropped_long"] == 1


def test_limit_and_samples(engine):
    records = [{"prompt": r["prompt"]} for r in RECORDS]
    out, stats = generate_continuations(engine, words, records, small(limit=2, n=2))
    assert stats["n_in"] == 2 and stats["n_out"] == 4
    assert [r["sample"] for r in out] == [0, 1, 0, 1]
    assert "doc_id" not in out[0]


def test_seeded_reproducible_and_progress(engine):
    events: list[tuple] = []
    first, _ = generate_continuations(engine, words, RECORDS, small(seed=5), Reporter(lambda *e: events.append(e)))
    again, _ = generate_continuations(engine, words, RECORDS, small(seed=5))
    assert first == again
    assert {e[0] for e in events} == {"filter", "generate"}


def test_missing_prompt_field_is_invalid(engine):
    with pytest.raises(InvalidSpec) as err:
        generate_continuations(engine, words, [{"text": "x"}], small())
    assert "records[0]" in str(err.value)


def test_task_registry():
    task = get_task("continuation")
    assert task.config_type is ContinuationConfig and task.run is generate_continuations
    with pytest.raises(InvalidSpec, match="continuation"):
        get_task("self_instruct_typo")
