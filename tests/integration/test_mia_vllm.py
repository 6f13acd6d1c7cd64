"""The vllm MIA scorer against the hf scorer on tiny models (fp32): same tokens, same log-probs.

Each scorer call starts and shuts down its own vLLM engine (~20-30 s on CPU), so the module
makes three calls: llama with vocab stats on texts that fill max_model_len, gpt_neox
(Transformers backend) without them on texts longer than max_model_len (sliding windows),
and one cancelled mid-run.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("vllm", reason="vLLM is not installed (pip install 'genleak[vllm]')")
psutil = pytest.importorskip("psutil")

from genleak.attacker.mia import get_scorer, run_attacks, score_texts_hf  # noqa: E402
from genleak.attacker.mia.logprobs_vllm import score_texts_vllm  # noqa: E402
from genleak.core.errors import Cancelled, InvalidSpec  # noqa: E402
from genleak.core.progress import Reporter  # noqa: E402
from genleak.engines import EngineConfig  # noqa: E402
from genleak.engines.probe_model import build_tiny_model  # noqa: E402
from genleak.compute.threads import torch_threads  # noqa: E402

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

# Not length-sorted, with a 0-token and a 2-token text, so order and edge cases are checked.
TEXTS = [
    "please send the gas price report to Mary Kate [mailto: mary.kate@enron.com thanks regards",
    "",
    "hi",
    "the email address of John Smith is",
    "contract deal market call today tomorrow thanks regards original message mailto com org net "
    "the email address of is from to meeting please send report enron energy gas price",
    "Vince Sara [mailto: vince.sara@enron.com",
]
ENGINE = EngineConfig(name="vllm", dtype="float32", max_model_len=512)
ATTACKS = {"loss": None, "zlib": None, "min_k": {"k": 0.2}}
TOL = 1e-4


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    with torch_threads(1):  # for the hf side; vLLM binds its own worker threads
        yield


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("mia_vllm")
    return {arch: build_tiny_model(root / arch, arch=arch) for arch in ("llama", "gpt_neox")}


def _score_in_thread(*args, **kwargs):
    """As the attacker service does: scoring runs in a job worker thread. Afterwards (also on
    error) the EngineCore/worker processes that call started must be gone."""
    box: dict = {}

    def run() -> None:
        try:
            box["result"] = score_texts_vllm(*args, **kwargs)
        except BaseException as exc:  # re-raised in the test thread
            box["error"] = exc

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    started = time.perf_counter()
    worker = threading.Thread(target=run, name="scorer")
    worker.start()
    worker.join(timeout=300)
    seconds = time.perf_counter() - started
    _assert_released(before)
    if "error" in box:
        raise box["error"]
    return box["result"], seconds


def _assert_released(before: set[int]) -> None:
    def started_here() -> list[psutil.Process]:
        alive = []
        for p in psutil.Process().children(recursive=True):
            try:  # exited (zombie until reaped) and multiprocessing's per-process resource tracker are fine
                if p.pid not in before and p.status() != psutil.STATUS_ZOMBIE and not _is_resource_tracker(p):
                    alive.append(p)
            except psutil.NoSuchProcess:
                pass
        return alive

    deadline = time.monotonic() + 20
    while started_here() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not started_here(), [p.name() for p in started_here()]


def _is_resource_tracker(p: psutil.Process) -> bool:
    return any("resource_tracker" in part for part in p.cmdline())


def _assert_same_tokens_and_logprobs(hf, vl) -> None:
    assert [r.text for r in vl] == TEXTS
    for a, b in zip(hf, vl):
        np.testing.assert_array_equal(a.token_ids, b.token_ids)
        assert a.logprobs.shape == b.logprobs.shape
        np.testing.assert_allclose(b.logprobs, a.logprobs, atol=TOL, rtol=0)


def _assert_same_attack_scores(hf, vl, attacks) -> None:
    want, got = run_attacks(attacks, hf), run_attacks(attacks, vl)
    for name in attacks:
        np.testing.assert_allclose(got[name], want[name], atol=TOL, rtol=0, equal_nan=True, err_msg=name)


def test_llama_logprobs_and_vocab_stats_match_hf(models):
    # max_tokens == max_model_len: the long texts fill the context, which vLLM refuses as a
    # prompt; their last token is scored from the sampling step (and mixed in one batch).
    events: list[tuple] = []
    hf = score_texts_hf(models["llama"], TEXTS, batch_size=4, max_length=16)
    engine = ENGINE.model_copy(update={"max_model_len": 16})
    vl, seconds = _score_in_thread(models["llama"], TEXTS, engine, 16, Reporter(lambda *e: events.append(e)),
                                   with_vocab_stats=True)
    assert sorted(len(r.token_ids) for r in vl)[-2:] == [16, 16]
    _assert_same_tokens_and_logprobs(hf, vl)
    assert vl[1].logprobs.size == 0 and vl[2].logprobs.size == 1
    for a, b in zip(hf, vl):
        np.testing.assert_allclose(b.mu, a.mu, atol=TOL, rtol=0)
        np.testing.assert_allclose(b.sigma, a.sigma, atol=TOL, rtol=0)
    _assert_same_attack_scores(hf, vl, {**ATTACKS, "min_k_plus_plus": {"k": 0.2}})
    assert events[-1][:3] == ("score", len(TEXTS) - 1, len(TEXTS) - 1)  # the 0-token text needs no pass
    assert seconds < 120


def test_gpt_neox_long_texts_in_sliding_windows_without_vocab_stats(models):
    """Texts up to 64 tokens on a 16-position engine: both scorers walk MIMIR's windows (stride 8)."""
    hf = score_texts_hf(models["gpt_neox"], TEXTS, batch_size=4, max_length=64, max_model_len=16)
    vl, _ = _score_in_thread(models["gpt_neox"], TEXTS, ENGINE.model_copy(update={"max_model_len": 16}), 64)
    _assert_same_tokens_and_logprobs(hf, vl)
    assert max(len(r.token_ids) for r in vl) > 16  # scored past the context, in windows of 16 (stride 8)
    assert all(r.mu is None and r.sigma is None for r in vl)
    _assert_same_attack_scores(hf, vl, ATTACKS)
    with pytest.raises(InvalidSpec, match="use the hf scoring engine"):
        run_attacks({"min_k_plus_plus": None}, vl)


def test_cancel_mid_run_releases_the_engine(models):
    texts = [f"please send report number {i} to" for i in range(64)]
    cancel = threading.Event()
    cancelling = Reporter(lambda *e: cancel.set(), cancel)  # cancels at the first progress report
    with pytest.raises(Cancelled):
        _score_in_thread(models["llama"], texts, ENGINE, 64, cancelling)


def test_peft_adapter_folder_is_refused_before_vllm_starts(tmp_path):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8}))
    (adapter / "adapter_model.safetensors").write_bytes(b"\0" * 16)
    scorer = get_scorer("vllm")
    with pytest.raises(InvalidSpec, match="merged checkpoint"):
        scorer(adapter, TEXTS, ENGINE, 64, Reporter())
