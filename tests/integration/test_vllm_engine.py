"""The vLLM engine on a tiny Llama: one engine for the whole module (start-up is ~30 s on CPU).

The engine is created in a worker thread, as the gRPC services do. vLLM spawns its
engine processes; pytest's own entry point is guarded, so spawn's re-import is safe.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed (pip install 'genleak[vllm]')")

from genleak.core.errors import Cancelled, InvalidSpec  # noqa: E402
from genleak.core.progress import Reporter  # noqa: E402
from genleak.engines import EngineConfig, SamplingConfig, create_engine  # noqa: E402
from genleak.engines.probe_model import build_tiny_model  # noqa: E402
from genleak.compute.threads import torch_threads  # noqa: E402

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

PROMPTS = ["the email address of John Smith is", "hi", "please send the gas report to Mary Kate [mailto:"]
MAX_NEW = 12


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    with torch_threads(1):  # for the hf side; vLLM binds its own worker threads
        yield


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "llama")


@pytest.fixture(scope="module")
def vllm_engine(tiny_dir: Path):
    box: dict = {}

    def load() -> None:
        try:
            box["engine"] = create_engine(tiny_dir, EngineConfig(name="vllm", dtype="float32", max_model_len=512))
        except BaseException as exc:  # re-raised in the test thread
            box["error"] = exc

    loader = threading.Thread(target=load, name="engine-loader")
    loader.start()
    loader.join(timeout=300)
    if "error" in box:
        raise box["error"]
    engine = box["engine"]
    yield engine
    started = time.perf_counter()
    engine.close()
    assert engine._llm is None and time.perf_counter() - started < 60


def sampled(seed: int, n: int = 1) -> SamplingConfig:
    return SamplingConfig(temperature=1.0, top_k=50, max_new_tokens=MAX_NEW, n=n, seed=seed)


def test_n_samples_and_seed_reproducibility(vllm_engine):
    first = vllm_engine.generate(PROMPTS, sampled(seed=7, n=2))
    assert [len(samples) for samples in first] == [2, 2, 2]
    assert first == vllm_engine.generate(PROMPTS, sampled(seed=7, n=2))
    assert first != vllm_engine.generate(PROMPTS, sampled(seed=8, n=2))


def test_vllm_and_hf_return_bounded_completions(vllm_engine, tiny_dir):
    from transformers import AutoTokenizer

    hf = create_engine(tiny_dir, EngineConfig(name="hf"))
    try:
        hf_out = hf.generate(PROMPTS, sampled(seed=1))
        greedy_hf = hf.generate(PROMPTS, SamplingConfig(temperature=0, max_new_tokens=MAX_NEW))
    finally:
        hf.close()
    vllm_out = vllm_engine.generate(PROMPTS, sampled(seed=1))
    greedy_vllm = vllm_engine.generate(PROMPTS, SamplingConfig(temperature=0, max_new_tokens=MAX_NEW))
    tok = AutoTokenizer.from_pretrained(str(tiny_dir))
    for out in (hf_out, vllm_out):
        assert len(out) == len(PROMPTS)
        for (text,) in out:
            # Re-encoding decoded bytes can split a token: allow the slack of byte-level BPE.
            assert 0 <= len(tok.encode(text)) <= 3 * MAX_NEW
    # fp32 greedy decoding of the same weights: the engines should mostly agree.
    same = sum(a == b for a, b in zip(greedy_hf, greedy_vllm))
    assert same >= 2, (greedy_hf, greedy_vllm)


def test_progress_and_cancel_leave_the_engine_clean(vllm_engine):
    prompts = [f"please send report number {i} to" for i in range(300)]
    events: list[tuple] = []
    vllm_engine.generate(prompts[:20], sampled(seed=2), Reporter(lambda *e: events.append(e)))
    assert events[-1][:3] == ("generate", 20, 20)

    cancel = threading.Event()
    cancelling = Reporter(lambda *e: cancel.set(), cancel)  # cancels at the first report
    with pytest.raises(Cancelled):
        vllm_engine.generate(prompts, sampled(seed=2), cancelling)
    assert not vllm_engine._llm.llm_engine.has_unfinished_requests()
    again = vllm_engine.generate(PROMPTS, sampled(seed=3))
    assert len(again) == len(PROMPTS) and again == vllm_engine.generate(PROMPTS, sampled(seed=3))


def test_prompt_over_max_model_len_is_invalid_spec(vllm_engine):
    too_long = " ".join(["gas price"] * 600)  # > 512 tokens
    with pytest.raises(InvalidSpec, match="maximum context length"):
        vllm_engine.generate(["hi", too_long], sampled(seed=1))
    assert len(vllm_engine.generate(["hi"], sampled(seed=1))) == 1
