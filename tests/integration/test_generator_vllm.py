"""The generator service with the vLLM engine over gRPC: the paper's continuation recipe on CPU vLLM."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed (pip install 'genleak[vllm]')")

from genleak.app import build_service  # noqa: E402
from genleak.core.datasets import publish_records  # noqa: E402
from genleak.core.settings import Settings, StoreSettings  # noqa: E402
from genleak.core.store import ArtifactStore  # noqa: E402
from genleak.lab import LabConfig, build_lab  # noqa: E402
from genleak.rpc.channels import open_channel, wait_for_job  # noqa: E402
from genleak.rpc.server import start_server  # noqa: E402
from genleak.v1 import common_pb2, generator_pb2, generator_pb2_grpc  # noqa: E402

pytestmark = [pytest.mark.vllm, pytest.mark.slow]


def test_vllm_generation_job_writes_prompt_plus_continuation(tmp_path):
    settings = Settings(store=StoreSettings(root=f"file://{tmp_path}/store", cache_dir=tmp_path / "cache"))
    store = ArtifactStore(settings.store)
    # The lab's Llama generator: proves lab models (tokenizer, head size, positions) load in vLLM.
    model = build_lab(LabConfig.preset("tiny"), tmp_path / "lab").generator_dir
    prompts = [{"doc_id": i, "prompt": f"From: Jane Doe [mailto: jane{i}@enron.com]"} for i in range(8)]
    dataset = publish_records(store, prompts, store.uri_for("inputs", "prompts"))
    server = start_server([build_service("generator", settings, store)])
    try:
        stub = generator_pb2_grpc.GeneratorServiceStub(open_channel(server.address))
        request = generator_pb2.StartGenerationRequest(
            model=common_pb2.ModelRef(uri=str(model)), dataset=common_pb2.ArtifactRef(uri=dataset.uri))
        request.params.update({"engine": {"name": "vllm", "dtype": "bfloat16", "max_model_len": 128},
                               "config": {"temperature": 0.75, "top_k": 100, "max_new_tokens": 16, "seed": 5}})
        job = wait_for_job(stub, stub.StartGeneration(request))
        rows = [json.loads(x) for x in (store.fetch(job.artifacts["dataset"].uri) / "data.jsonl").read_text().splitlines()]
        assert len(rows) == 8 and job.result["n_out"] == 8
        for source, row in zip(prompts, rows):
            assert row["prompt"] == source["prompt"] + " " and row["text"] == row["prompt"] + row["generation"]
    finally:
        server.stop(grace=0.5)
