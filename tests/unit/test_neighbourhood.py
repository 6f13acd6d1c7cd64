"""The neighbourhood attack (MIMIR's `ne`) with a tiny masked LM built here: neighbours, score, plumbing."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from genleak.attacker.mia import attack_names, score_texts_hf
from genleak.attacker.mia.evaluate import evaluate_membership, score_with_extras
from genleak.attacker.mia.neighbourhood import NeighbourhoodConfig, generate_neighbours
from genleak.attacker.mia.registry import run_attacks
from genleak.core.errors import InvalidSpec
from genleak.core.progress import Reporter
from genleak.engines import EngineConfig
from genleak.engines.probe_model import build_tiny_model
from genleak.compute.threads import torch_threads

TEXTS = [
    "please send the quarterly gas price report to Mary Kate before the meeting tomorrow morning",
    "the contract for the pipeline deal was signed today and the counterparty wants a confirmation",
    "John asked whether the market call can move to Thursday because of the energy conference",
    "regards from the trading floor where the new power desk is finally up and running this week",
]


def build_tiny_masked_lm(folder: Path, corpus: list[str]) -> Path:
    """A WordPiece tokenizer trained on `corpus` + a random-init BERT masked LM, as safetensors."""
    import torch
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertForMaskedLM, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    wordpiece = BertWordPieceTokenizer(lowercase=True)
    wordpiece.train_from_iterator(corpus * 20, vocab_size=300, min_frequency=1)
    wordpiece.save_model(str(folder))
    tokenizer = BertTokenizer.from_pretrained(str(folder))  # reads the vocab.txt just written (a fast tokenizer)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, max_position_embeddings=128, initializer_range=0.2)
    BertForMaskedLM(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def mask_model(tmp_path_factory) -> Path:
    return build_tiny_masked_lm(tmp_path_factory.mktemp("mlm") / "bert", TEXTS)


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("target") / "neox", arch="gpt_neox", init_std=0.2)


def config(mask_model: Path, **kw) -> NeighbourhoodConfig:
    return NeighbourhoodConfig(mask_model=str(mask_model), **{"n_neighbours": 5, "trials": 200, **kw})


def test_ne_is_registered_and_needs_a_mask_model():
    assert "ne" in attack_names()
    with pytest.raises(InvalidSpec, match="mask_model"):
        run_attacks({"ne": {}}, [])
    from genleak.attacker.mia.job import MIAAttackSpec
    from genleak.core.specs import parse_spec

    with pytest.raises(InvalidSpec, match="mask_model"):
        parse_spec(MIAAttackSpec, {"name": "ne", "config": {}})
    defaults = NeighbourhoodConfig(mask_model="m")
    assert (defaults.n_neighbours, defaults.pct_swap, defaults.dropout, defaults.candidates, defaults.trials,
            defaults.strategy) == (25, 0.05, 0.7, 6, 1000, "random")  # MIMIR's BERT defaults


def test_random_neighbours_swap_tokens_in_place_and_are_seeded(mask_model):
    events: list[tuple] = []
    first = generate_neighbours(mask_model, TEXTS, config(mask_model), Reporter(lambda *e: events.append(e)))
    assert [len(n) for n in first] == [5] * len(TEXTS)
    assert first == generate_neighbours(mask_model, TEXTS, config(mask_model))
    assert first != generate_neighbours(mask_model, TEXTS, config(mask_model, seed=1))
    assert generate_neighbours(mask_model, TEXTS[2:3], config(mask_model)) == first[2:3]  # per text, not per batch
    for text, neighbours in zip(TEXTS, first):
        for neighbour in neighbours:
            assert neighbour != text
            kept = [w for w, v in zip(text.split(), neighbour.split()) if w == v]
            assert len(kept) >= len(text.split()) - 3  # a few tokens swapped in place, the rest as it was
    assert events[-1][:3] == ("neighbours", len(TEXTS), len(TEXTS))


def test_neighbours_are_cached_per_text_masked_lm_and_knobs(mask_model, tmp_path):
    from genleak.attacker.mia.neighbourhood import set_neighbour_cache_dir

    set_neighbour_cache_dir(tmp_path / "neighbours")
    try:
        first = generate_neighbours(mask_model, TEXTS[:2], config(mask_model))
        events: list[tuple] = []
        again = generate_neighbours(mask_model, TEXTS, config(mask_model), Reporter(lambda *e: events.append(e)))
        assert again[:2] == first and again == generate_neighbours(mask_model, TEXTS, config(mask_model))
        assert events[-1][3].endswith("(2 cached)")  # only the two new texts were perturbed
        # other knobs, other neighbours: a separate cache entry (batch_size changes nothing)
        assert generate_neighbours(mask_model, TEXTS[:2], config(mask_model, seed=1)) != first
        assert generate_neighbours(mask_model, TEXTS[:2], config(mask_model, batch_size=3)) == first
        assert len(list((tmp_path / "neighbours").iterdir())) == 2
    finally:
        set_neighbour_cache_dir(None)


def test_deterministic_neighbours_are_single_swaps(mask_model):
    neighbours = generate_neighbours(mask_model, TEXTS[:1], config(mask_model, strategy="deterministic"))[0]
    assert len(neighbours) == 5 and len(set(neighbours)) == 5
    for neighbour in neighbours:  # one token swapped: everything outside a single word is unchanged
        changed = _changed_stretch(TEXTS[0], neighbour)
        assert changed and " " not in changed.strip(), (neighbour, changed)


def _changed_stretch(text: str, other: str) -> str:
    """The part of `text` that differs from `other` once their common prefix and suffix are removed."""
    prefix = len(os.path.commonprefix([text, other]))
    suffix = len(os.path.commonprefix([text[prefix:][::-1], other[prefix:][::-1]]))
    return text[prefix:len(text) - suffix]


def test_score_is_the_texts_log_prob_minus_its_neighbours_mean(mask_model, target):
    cfg = config(mask_model)
    scored, extras = score_with_extras(target, TEXTS, {"ne": cfg.model_dump()}, EngineConfig(name="hf"), 128)
    assert [len(group) for group in extras["neighbours"]] == [5] * len(TEXTS)
    scores = run_attacks({"ne": cfg.model_dump()}, scored, extras)["ne"]
    neighbours = generate_neighbours(mask_model, TEXTS, cfg)
    for i, text in enumerate(TEXTS):  # recomputed apart: the text and its neighbours, scored on their own
        own = score_texts_hf(target, [text, *neighbours[i]], max_length=128)
        expected = own[0].mean_logprob - np.mean([t.mean_logprob for t in own[1:]])
        assert scores[i] == pytest.approx(expected, abs=1e-5)


def test_membership_evaluation_reports_ne_beside_the_other_attacks(mask_model, target):
    events: list[tuple] = []
    outcome = evaluate_membership(target, TEXTS[:2], TEXTS[2:], {"loss": None, "ne": config(mask_model).model_dump()},
                                  EngineConfig(name="hf"), 128, reporter=Reporter(lambda *e: events.append(e)))
    assert set(outcome.metrics) == {"loss", "ne"} and 0 <= outcome.metrics["ne"].auc <= 1
    assert "neighbours" in outcome.seconds and {e[0] for e in events} >= {"neighbours", "score"}
    assert outcome.tokens_scored > sum(outcome.member_tokens) + sum(outcome.nonmember_tokens)  # neighbours too


def test_score_texts_service_core_resolves_the_mask_model(mask_model, target, tmp_path):
    from genleak.attacker.mia.job import ScoreTextsSpec, score_texts
    from genleak.core.settings import StoreSettings
    from genleak.core.specs import parse_spec
    from genleak.core.store import ArtifactStore

    store = ArtifactStore(StoreSettings(root=f"file://{tmp_path}/store", cache_dir=tmp_path / "cache"))
    spec = parse_spec(ScoreTextsSpec, {"model": {"uri": str(target)}, "texts": TEXTS[:2], "max_tokens": 128,
                                       "attacks": [{"name": "ne", "config": {"mask_model": str(mask_model),
                                                                             "n_neighbours": 3, "trials": 50}}]})
    rows = score_texts(store, spec, Reporter())
    assert len(rows) == 2 and all(np.isfinite(r["scores"]["ne"]) for r in rows)
    missing = parse_spec(ScoreTextsSpec, {"model": {"uri": str(target)}, "texts": TEXTS[:1],
                                          "attacks": [{"name": "ne", "config": {"mask_model": str(tmp_path / "no")}}]})
    with pytest.raises(GenleakErrorLike):
        score_texts(store, missing, Reporter())


GenleakErrorLike = __import__("genleak.core.errors", fromlist=["GenleakError"]).GenleakError
