"""MIA attacks, shared log-prob scoring and metrics."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest

from genleak.attacker.mia import TokenLogProbs, attack_names, compute_metrics, get_attack, plot_roc, run_attacks
from genleak.core.errors import InvalidSpec

TEXTS = [
    "meeting notes Jeff Skilling [mailto: jeff.skilling@enron.com",
    "hello",
    "the quarterly gas trading report was sent to Kenneth Lay yesterday afternoon",
    "Please review the attached contract and forward it to legal",
]


def _tlp(logprobs, text="some text", mu=None, sigma=None) -> TokenLogProbs:
    arr = lambda x: None if x is None else np.asarray(x, dtype=np.float64)  # noqa: E731
    lp = arr(logprobs)
    return TokenLogProbs(text, np.arange(lp.size + 1), lp, arr(mu), arr(sigma))


# --- scoring a real (tiny) model ---------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    pytest.importorskip("torch")
    from genleak.engines.probe_model import build_tiny_model
    from genleak.compute.threads import torch_threads

    with torch_threads(1):
        yield build_tiny_model(tmp_path_factory.mktemp("mia") / "neox", arch="gpt_neox")


def _reference_scores(model_dir, text: str) -> dict[str, float]:
    """LOSS, zlib and Min-K% from an unbatched forward, written independently of the module."""
    import torch
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(model_dir)
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir).eval()
    ids = torch.tensor([tok(text)["input_ids"]])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0, :-1], dim=-1)
    token_lp = logp[torch.arange(ids.shape[1] - 1), ids[0, 1:]].numpy().astype(np.float64)
    loss = float(token_lp.mean())
    lowest = np.sort(token_lp)[: max(1, int(len(token_lp) * 0.2))]
    lp64 = logp.double()
    mu = (lp64.exp() * lp64).sum(-1)
    sigma = ((lp64.exp() * lp64.square()).sum(-1) - mu.square()).sqrt()
    return {"loss": loss, "mu": mu.numpy(), "sigma": sigma.numpy(), "zlib": loss / len(zlib.compress(text.encode())), "min_k": float(lowest.mean())}


def test_batched_scores_match_independent_recomputation(tiny_model):
    from genleak.attacker.mia import score_texts_hf
    from genleak.compute.threads import torch_threads

    texts = [t for t in TEXTS if len(t) > 10]
    with torch_threads(1):
        scored = score_texts_hf(tiny_model, texts, batch_size=4)
        expected = [_reference_scores(tiny_model, t) for t in texts]
    ours = run_attacks({"loss": None, "zlib": None, "min_k": {"k": 0.2}}, scored)
    for got, exp in zip(scored, expected):  # Min-K%++ inputs, against the brief's formula in float64
        np.testing.assert_allclose(got.mu, exp["mu"], atol=1e-4)
        np.testing.assert_allclose(got.sigma, exp["sigma"], atol=1e-4)
    for name in ("loss", "zlib", "min_k"):
        np.testing.assert_allclose(ours[name], [e[name] for e in expected], atol=1e-4)


def test_padding_does_not_change_scores_and_order_is_kept(tiny_model):
    from genleak.attacker.mia import score_texts_hf
    from genleak.compute.threads import torch_threads

    with torch_threads(1):
        one = score_texts_hf(tiny_model, TEXTS, batch_size=1)
        four = score_texts_hf(tiny_model, TEXTS, batch_size=4)
    assert [r.text for r in four] == TEXTS
    for a, b in zip(one, four):
        np.testing.assert_array_equal(a.token_ids, b.token_ids)
        for field in ("logprobs", "mu", "sigma"):
            np.testing.assert_allclose(getattr(a, field), getattr(b, field), atol=1e-5)
    first = four[0]
    assert first.logprobs.size == first.token_ids.size - 1
    assert (first.sigma > 0).all() and (first.mu < 0).all()


def test_vocab_stats_only_where_asked_and_log_probs_unchanged(tiny_model):
    """Texts that feed no Min-K%++ skip the full-vocabulary stats (most of the scoring time on
    small models); their target log-probs are the same as with the stats."""
    from genleak.attacker.mia import score_texts_hf
    from genleak.compute.threads import torch_threads

    flags = [i % 2 == 0 for i in range(len(TEXTS))]
    with torch_threads(1):
        full = score_texts_hf(tiny_model, TEXTS, batch_size=2)
        mixed = score_texts_hf(tiny_model, TEXTS, batch_size=2, with_vocab_stats=flags)
        none = score_texts_hf(tiny_model, TEXTS, batch_size=2, with_vocab_stats=False)
    assert [r.text for r in mixed] == TEXTS
    for a, b, c, flag in zip(full, mixed, none, flags):
        np.testing.assert_allclose(a.logprobs, b.logprobs, atol=1e-5)
        np.testing.assert_allclose(a.logprobs, c.logprobs, atol=1e-5)
        assert c.mu is None and c.sigma is None
        if flag:
            np.testing.assert_allclose(a.mu, b.mu, atol=1e-5)


# --- attacks on synthetic arrays ---------------------------------------------------------


def test_loss_and_zlib_follow_higher_is_member():
    text = "abc abc abc"
    scores = run_attacks({"loss": None, "zlib": None}, [_tlp([-1.0, -3.0], text)])
    assert scores["loss"][0] == pytest.approx(-2.0)
    assert scores["zlib"][0] == pytest.approx(-2.0 / len(zlib.compress(text.encode())))


def test_min_k_averages_the_lowest_fraction():
    lp = [-0.1, -5.0, -0.2, -4.0, -0.3, -0.4, -0.5, -0.6, -0.7, -0.8]
    scores = run_attacks({"min_k": {"k": 0.2}}, [_tlp(lp), _tlp([-2.0])])
    assert scores["min_k"][0] == pytest.approx(-4.5)
    assert scores["min_k"][1] == pytest.approx(-2.0)  # at least one token is always averaged


def test_min_k_plus_plus_uses_mu_and_sigma():
    target = _tlp([-1.0, -2.0, -3.0, -1.0], mu=[-1.0, -4.0, -2.0, 0.0], sigma=[1.0, 2.0, 0.5, 1.0])
    # z = [0, 1, -2, -1]; lowest half = mean(-2, -1)
    scores = run_attacks({"min_k_plus_plus": {"k": 0.5}}, [target])
    assert scores["min_k_plus_plus"][0] == pytest.approx(-1.5)
    with pytest.raises(InvalidSpec):
        run_attacks({"min_k_plus_plus": None}, [_tlp([-1.0])])


def test_reference_difference_and_ratio():
    target, ref = [_tlp([-1.0, -1.0], "t")], {"reference": [_tlp([-4.0], "t")]}
    assert run_attacks({"reference": {"mode": "difference"}}, target, ref)["reference"][0] == pytest.approx(3.0)
    assert run_attacks({"reference": {"mode": "ratio"}}, target, ref)["reference"][0] == pytest.approx(-0.25)


def test_lowercase_compares_with_lowercased_text():
    target, lower = [_tlp([-1.0], "Jeff Skilling")], {"lowercase": [_tlp([-2.0], "jeff skilling")]}
    assert run_attacks({"lowercase": None}, target, lower)["lowercase"][0] == pytest.approx(-0.5)
    wrong = {"lowercase": [_tlp([-2.0], "Jeff Skilling")]}
    with pytest.raises(InvalidSpec, match="does not match"):
        run_attacks({"lowercase": None}, target, wrong)


def test_unknown_attack_lists_valid_names():
    with pytest.raises(InvalidSpec) as err:
        get_attack("nope")
    for name in attack_names():
        assert name in str(err.value)


def test_missing_extra_and_bad_config_are_invalid_spec():
    with pytest.raises(InvalidSpec, match="reference"):
        run_attacks({"reference": None}, [_tlp([-1.0])], {})
    with pytest.raises(InvalidSpec, match="min_k.k"):
        run_attacks({"min_k": {"k": 0}}, [_tlp([-1.0])])
    with pytest.raises(InvalidSpec):
        run_attacks({"min_k": {"kk": 0.1}}, [_tlp([-1.0])])


# --- metrics -----------------------------------------------------------------------------


def test_perfect_separation():
    m = compute_metrics(np.linspace(1, 2, 200), np.linspace(-2, -1, 200), n_bootstrap=50)
    assert m.auc == 1.0 and m.pr_auc == 1.0
    assert m.tpr_at_fpr == {0.01: 1.0, 0.001: 1.0}
    assert m.auc_ci == (1.0, 1.0) and (m.n_members, m.n_nonmembers) == (200, 200)


def test_identical_distributions_have_chance_auc():
    rng = np.random.default_rng(1)
    m = compute_metrics(rng.normal(size=500), rng.normal(size=500), n_bootstrap=200, seed=3)
    assert abs(m.auc - 0.5) < 0.05
    assert m.auc_ci[0] < 0.5 < m.auc_ci[1]
    assert m.tpr_at_fpr[0.01] < 0.1


def test_reversed_scores_and_tpr_interpolation():
    assert compute_metrics([0.0, 1.0], [2.0, 3.0], n_bootstrap=10).auc == 0.0
    # 100 nonmembers: FPR <= 1% allows exactly one nonmember above the threshold, MIMIR's FPR < 1% none.
    members = [10.0, 10.0, 4.0, -1.0]
    nonmembers = [5.0] + [0.0] * 99
    m = compute_metrics(members, nonmembers, fprs=(0.01, 0.001), n_bootstrap=10)
    assert m.tpr_at_fpr_at_most[0.001] == 0.5 and m.tpr_at_fpr_at_most[0.01] == 0.75
    assert m.tpr_at_fpr[0.001] == 0.5 and m.tpr_at_fpr[0.01] == 0.5


def test_tpr_and_pr_auc_equal_mimirs_formulas():
    """MIMIR's run.py: roc_curve on the negated raw scores (members = 1), tpr[last index with fpr < ub];
    PR-AUC with non-members = 1 on the raw scores, auc(recall, precision). Raw = -genleak score."""
    from sklearn.metrics import auc, precision_recall_curve, roc_curve

    rng = np.random.default_rng(7)
    members, nonmembers = rng.normal(0.6, 1, 300), rng.normal(0, 1, 500)
    raw_members, raw_nonmembers = list(-members), list(-nonmembers)
    fpr, tpr, _ = roc_curve([1] * 300 + [0] * 500, np.array(raw_members + raw_nonmembers) * -1)
    expected_tpr = {ub: tpr[np.where(np.array(fpr) < ub)[0][-1]] for ub in (0.01, 0.001)}
    precision, recall, _ = precision_recall_curve([0] * 300 + [1] * 500, raw_members + raw_nonmembers)
    m = compute_metrics(members, nonmembers, fprs=(0.01, 0.001), n_bootstrap=10)
    assert m.tpr_at_fpr == pytest.approx(expected_tpr, abs=0)
    assert m.pr_auc_mimir == pytest.approx(auc(recall, precision), abs=1e-12)
    assert m.pr_auc != m.pr_auc_mimir  # members-positive average precision is another number


def test_nan_scores_rejected():
    with pytest.raises(InvalidSpec):
        compute_metrics([math.nan, 1.0], [0.0])


def test_plot_roc_writes_png(tmp_path):
    rng = np.random.default_rng(0)
    curves = {"loss": compute_metrics(rng.normal(1, 1, 100), rng.normal(0, 1, 100), n_bootstrap=10)}
    path = plot_roc(curves, tmp_path / "plots" / "roc.png")
    assert path.stat().st_size > 0 and path.read_bytes()[:4] == b"\x89PNG"


# --- text selection and perplexity --------------------------------------------------------


def test_text_selection_filters_truncates_keeping_layout_and_samples_reproducibly():
    from genleak.contracts.text_selection import TextSelection, select_texts, truncate_words

    assert truncate_words("From: a\n\nhello   big world", 3) == "From: a\n\nhello"
    records = [{"text": " ".join(["w"] * n)} for n in (2, 5, 9, 12, 20)]
    sel = select_texts(records, TextSelection(min_words=5, max_words=10), "members")
    assert sel.source_index == [1, 2, 3, 4] and sel.n_too_short == 1
    assert [len(t.split()) for t in sel.texts] == [5, 9, 10, 10]
    a = select_texts(records, TextSelection(n_samples=2, seed=3), "members")
    b = select_texts(records, TextSelection(n_samples=2, seed=3), "members")
    assert a == b and len(a.texts) == 2 and a.source_index == sorted(a.source_index)
    with pytest.raises(InvalidSpec, match="min_words"):
        select_texts(records, TextSelection(min_words=100), "members")
    with pytest.raises(InvalidSpec) as err:
        select_texts([{"body": "x"}], TextSelection(), "nonmembers")
    assert err.value.field == "nonmembers[0]"


def test_perplexity_pools_tokens():
    from genleak.attacker.mia.perplexity import perplexity

    scored = [_tlp([-1.0, -1.0]), _tlp([-4.0])]
    assert perplexity(scored) == pytest.approx(math.exp(2.0))
    assert math.isnan(perplexity([]))


# --- texts longer than the model's context: MIMIR's sliding windows -----------------------------


def _mimir_style_token_logprobs(model, ids: list[int], context: int):
    """MIMIR's Model.get_probabilities loop, written here from its definition: stride = context // 2,
    window [max(i + stride - context, 0), min(i + stride, n)), tokens before i masked with -100."""
    import torch

    labels = torch.tensor([ids])
    stride, target_lp, all_lp = context // 2, [], []
    for i in range(0, labels.size(1), stride):
        begin, end = max(i + stride - context, 0), min(i + stride, labels.size(1))
        window = labels[:, begin:end]
        target_ids = window.clone()
        target_ids[:, : -(end - i)] = -100
        with torch.no_grad():
            logp = torch.log_softmax(model(window).logits[0, :-1].double(), dim=-1)
        for j, token in enumerate(target_ids[0, 1:]):
            if token != -100:
                target_lp.append(float(logp[j, token]))
                all_lp.append(logp[j])
    assert len(target_lp) == len(ids) - 1
    return np.array(target_lp), torch.stack(all_lp)


def test_long_texts_are_scored_in_mimirs_windows_and_match_a_plain_recomputation(tmp_path):
    """A 64-position model and texts of up to ~150 tokens: LOSS, zlib, Min-K% and Min-K%++ equal a
    recomputation from plain HF forwards over MIMIR's windows to 1e-5; no position past 64 is used."""
    import torch
    import transformers

    from genleak.attacker.mia import score_texts_hf
    from genleak.attacker.mia.windows import plan_windows
    from genleak.engines.probe_model import build_tiny_model
    from genleak.compute.threads import torch_threads

    model_dir = build_tiny_model(tmp_path / "short", arch="gpt_neox", max_positions=64, init_std=0.2)
    tok = transformers.AutoTokenizer.from_pretrained(model_dir)
    texts = [" ".join(TEXTS) * 3, TEXTS[0], " ".join(TEXTS[2:]) * 2, TEXTS[2] + " " + TEXTS[3]]
    lengths = [len(tok(t)["input_ids"]) for t in texts]
    assert lengths[0] > 2 * 64 and 64 < lengths[2] and lengths[1] < 64  # long, short, and in between
    attacks = {"loss": None, "zlib": None, "min_k": {"k": 0.2}, "min_k_plus_plus": {"k": 0.2}}
    with torch_threads(1):
        scored = score_texts_hf(model_dir, texts, batch_size=3, max_length=1024)
        model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
        ours = run_attacks(attacks, scored)
        for n, (text, got) in enumerate(zip(texts, scored)):
            ids = tok(text)["input_ids"]
            lp, all_lp = _mimir_style_token_logprobs(model, ids, 64)
            np.testing.assert_allclose(got.logprobs, lp, atol=1e-5)
            mu = (all_lp.exp() * all_lp).sum(-1)
            sigma = ((all_lp.exp() * all_lp.square()).sum(-1) - mu.square()).sqrt()
            z = (lp - mu.numpy()) / sigma.numpy()
            lowest = lambda v: float(np.mean(np.sort(v)[: max(1, int(len(v) * 0.2))]))  # noqa: E731
            expected = {"loss": lp.mean(), "zlib": lp.mean() / len(zlib.compress(text.encode("utf-8"))),
                        "min_k": lowest(lp), "min_k_plus_plus": lowest(z)}
            for name, value in expected.items():
                assert ours[name][n] == pytest.approx(value, abs=1e-5), (name, n)
    assert len(plan_windows([list(range(lengths[0]))], 64)) == -(-lengths[0] // 32)  # one window per stride


def test_window_plan_covers_every_token_once_with_half_a_context_before_it():
    from genleak.attacker.mia.windows import plan_windows, stitch

    for n in (0, 1, 2, 31, 32, 33, 64, 65, 100, 257):
        windows = plan_windows([list(range(n))], 64)
        covered = [t for w in windows for t in range(w.first, w.end)]
        assert covered == list(range(1, n)), n
        assert all(w.end - w.begin <= 64 and w.first - w.begin >= min(32, w.first) for w in windows)
        arrays = [(np.arange(w.begin + 1, w.end, dtype=float), None) for w in windows]  # "log-prob" = token index
        [(joined, none)] = stitch(windows, arrays, 1)
        assert list(joined) == list(range(1, n)) and none is None
