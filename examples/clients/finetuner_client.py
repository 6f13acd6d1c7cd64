"""Call the finetuner on its own: build (or find) the built-in lab, fine-tune its target model with LoRA on
the lab's member texts, and list the service's jobs.

    python examples/clients/finetuner_client.py [--preset tiny|default] [--epochs N] [--address HOST:PORT]

The address defaults to $GENLEAK_FINETUNER_ADDR, then 127.0.0.1:50052; the token and TLS come from the
environment as for every genleak client (GENLEAK_AUTH_TOKEN, GENLEAK_TLS_*).
"""

import argparse

from genleak.core.settings import Settings
from genleak.rpc.channels import open_channel, wait_for_job
from genleak.v1 import common_pb2, finetuner_pb2, finetuner_pb2_grpc

parser = argparse.ArgumentParser(description="Fine-tune the lab's target model on the finetuner service.")
parser.add_argument("--preset", default="tiny")
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--address")
args = parser.parse_args()
settings = Settings.from_env()
address = args.address or settings.finetuner_addr or "127.0.0.1:50052"

with open_channel(address, settings.auth_token, tls=settings.tls) as channel:
    stub = finetuner_pb2_grpc.FinetunerServiceStub(channel)
    lab = finetuner_pb2.StartLabBuildRequest()
    lab.params.update({"preset": args.preset})  # `genleak schema lab_build`
    lab = wait_for_job(stub, stub.StartLabBuild(lab))  # artifacts by name: models and datasets
    request = finetuner_pb2.StartFineTuneRequest(model=common_pb2.ModelRef(uri=lab.artifacts["target"].uri),
                                                 dataset=common_pb2.ArtifactRef(uri=lab.artifacts["members"].uri))
    request.params.update({"method": "lora", "method_config": {"r": 8, "lora_alpha": 16},  # `genleak schema finetune`
                           "train": {"epochs": args.epochs, "learning_rate": 1e-3, "batch_size": 8},
                           "data": {"format": "text"}})
    job = stub.StartFineTune(request)
    print(f"job {job.job_id} started")
    done = wait_for_job(stub, job, lambda j: print(f"  {j.progress.stage}: {j.progress.done}/{j.progress.total}"))
    for role, ref in sorted(done.artifacts.items()):
        print(f"{role}: {ref.uri}")
    for listed in stub.ListJobs(common_pb2.ListJobsRequest(page_size=10)).jobs:  # newest first
        print(f"{listed.job_id}  {listed.kind}  {common_pb2.JobState.Name(listed.state)}")
