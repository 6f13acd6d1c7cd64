"""Reduced-precision vLLM on a CPU is checked against transformers before it writes data or scores.

Three vLLM starts (~25 s each on 2 cores): a bfloat16 engine that agrees (its verdict is recorded
and cached), and, with the reference swapped for other weights so that vLLM really disagrees, a
generator job refused with FAILED_PRECONDITION next to the float32 job that works, and the vllm
MIA scorer refused the same way.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed (pip install 'genleak[vllm]')")

from genleak.app import build_service  # noqa: E402
from genleak.attacker.mia.logprobs_vllm import score_texts_vllm  # noqa: E402
from genleak.core.datasets import publish_records  # noqa: E402
from genleak.core.settings import Settings, StoreSettings  # noqa: E402
from genleak.core.store import ArtifactStore  # noqa: E402
from genleak.engines import EngineConfig, SamplingConfig, create_engine  # noqa: E402
from genleak.engines import precision  # noqa: E402
from genleak.engines.precision import PrecisionMismatch, set_precision_cache_dir  # noqa: E402
from genleak.engines.probe_model import build_tiny_model  # noqa: E402
from genleak.compute.threads import torch_threads  # noqa: E402
from genleak.rpc.channels import RemoteJobError, open_channel, wait_for_job  # noqa: E402
from genleak.rpc.convert import struct_to_dict  # noqa: E402
from genleak.rpc.server import start_server  # noqa: E402
from genleak.v1 import common_pb2, generator_pb2, generator_pb2_grpc  # noqa: E402

pytestmark = [pytest.mark.vllm, pytest.mark.slow]


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("precision")
    return {"model": build_tiny_model(root / "model", init_std=0.2),
            "other": build_tiny_model(root / "other", seed=1, init_std=0.2)}


@pytest.fixture(autouse=True)
def _fresh_verdicts():
    precision._CACHE.clear_memory()
    yield
    precision._CACHE.clear_memory()
    set_precision_cache_dir(None)


@pytest.fixture
def wrong_reference(monkeypatch, models):
    """The reference model becomes other weights (same tokenizer): vLLM now truly disagrees with it."""
    real = precision._reference

    def other_weights(model_dir, dtype, trust_remote_code):
        tokenizer, _ = real(model_dir, dtype, trust_remote_code)
        return tokenizer, real(models["other"], dtype, trust_remote_code)[1]

    monkeypatch.setattr(precision, "_reference", other_weights)


def test_bfloat16_engine_is_checked_once_and_records_the_verdict(models, tmp_path):
    set_precision_cache_dir(tmp_path / "verdicts")
    engine = create_engine(models["model"], EngineConfig(name="vllm", dtype="bfloat16", max_model_len=256))
    try:
        check = engine.provenance["precision_check"]
        assert engine.provenance["dtype"] == "bfloat16" and engine.provenance["device"] == "cpu"
        assert check["ok"] and not check["cached"] and check["dtype"] == "bfloat16"
        assert check["mean_abs_logprob_diff"] <= precision.TOLERANCES["bfloat16"].mean_abs_logprob
        [verdict] = (tmp_path / "verdicts").glob("*.json")
        assert json.loads(verdict.read_text())["platform"]["cpu"] == check["cpu"]
        assert engine.generate(["the email address of"], SamplingConfig(temperature=0, max_new_tokens=4))[0][0]
        precision._CACHE.clear_memory()  # as a restarted service: the verdict file answers, nothing is re-run
        assert precision.PrecisionGate(models["model"], "bfloat16").ensure(engine._llm).cached
    finally:
        engine.close()


def test_generator_refuses_disagreeing_bfloat16_and_float32_runs(models, tmp_path, wrong_reference):
    settings = Settings(store=StoreSettings(root=f"file://{tmp_path}/store", cache_dir=tmp_path / "cache"))
    store = ArtifactStore(settings.store)
    prompts = [{"doc_id": i, "prompt": f"please send the report to Mary Kate {i}"} for i in range(4)]
    dataset = publish_records(store, prompts, store.uri_for("inputs", "prompts"))
    server = start_server([build_service("generator", settings, store)])
    try:
        stub = generator_pb2_grpc.GeneratorServiceStub(open_channel(server.address))

        def generate(dtype: str) -> common_pb2.Job:
            request = generator_pb2.StartGenerationRequest(
                model=common_pb2.ModelRef(uri=str(models["model"])), dataset=common_pb2.ArtifactRef(uri=dataset.uri))
            request.params.update({"engine": {"name": "vllm", "dtype": dtype, "max_model_len": 128},
                                   "config": {"temperature": 0.75, "top_k": 100, "max_new_tokens": 8, "seed": 5}})
            return wait_for_job(stub, stub.StartGeneration(request))

        with pytest.raises(RemoteJobError) as refused:
            generate("bfloat16")
        assert refused.value.code == "FAILED_PRECONDITION"
        assert "disagrees with transformers in bfloat16" in str(refused.value)
        assert "use engine.dtype: float32" in str(refused.value)
        job = generate("auto")  # auto is float32 on a CPU: no check, and it runs
        engine = struct_to_dict(job.result)["engine"]
        assert engine == {"engine": "vllm", "dtype": "float32", "device": "cpu", "tensor_parallel_size": 1,
                          "enforce_eager": True, "quantization": None}
    finally:
        server.stop(grace=0.5)


def test_vllm_scorer_refuses_disagreeing_bfloat16(models, wrong_reference):
    with pytest.raises(PrecisionMismatch, match="use engine.dtype: float32"):
        score_texts_vllm(models["model"], ["the email address of John Smith is"],
                         EngineConfig(name="vllm", dtype="bfloat16", max_model_len=256), max_tokens=64)
