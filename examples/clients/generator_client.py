"""Call the generator on its own: generate a dataset from a prompts dataset, following the job to its end.

    python examples/clients/generator_client.py MODEL PROMPTS [--address HOST:PORT]

MODEL: a store URI, hf://org/name, zoo:NAME or a model folder on the server; PROMPTS: the store URI of a
JSONL dataset with a `prompt` field. The address defaults to $GENLEAK_GENERATOR_ADDR, then 127.0.0.1:50051;
the token and TLS come from the environment as for every genleak client (GENLEAK_AUTH_TOKEN, GENLEAK_TLS_*).
"""

import argparse

from genleak.core.settings import Settings
from genleak.rpc.channels import open_channel, wait_for_job
from genleak.rpc.convert import struct_to_dict
from genleak.v1 import common_pb2, generator_pb2, generator_pb2_grpc

parser = argparse.ArgumentParser(description="Start a generation job on the generator service and wait for it.")
parser.add_argument("model")
parser.add_argument("prompts")
parser.add_argument("--address")
args = parser.parse_args()
settings = Settings.from_env()
address = args.address or settings.generator_addr or "127.0.0.1:50051"

with open_channel(address, settings.auth_token, tls=settings.tls) as channel:
    stub = generator_pb2_grpc.GeneratorServiceStub(channel)
    request = generator_pb2.StartGenerationRequest(model=common_pb2.ModelRef(uri=args.model),
                                                   dataset=common_pb2.ArtifactRef(uri=args.prompts))
    # The params Struct: `genleak schema generation` prints every key it takes.
    request.params.update({"task": "continuation", "config": {"max_new_tokens": 32, "temperature": 0.75,
                                                              "top_k": 100, "seed": 1}})
    job = stub.StartGeneration(request)
    print(f"job {job.job_id} started")
    done = wait_for_job(stub, job, lambda j: print(f"  {j.progress.stage}: {j.progress.done}/{j.progress.total}"))
    result = struct_to_dict(done.result)
    print(f"dataset: {done.artifacts['dataset'].uri} ({int(result['n_out'])} records, cached: {done.cached})")
