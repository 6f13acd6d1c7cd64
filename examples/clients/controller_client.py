"""Call the controller: run an experiment spec, follow it, and read its report back with GetReport.

    python examples/clients/controller_client.py SPEC.yaml [--run-name NAME] [--address HOST:PORT]

The address defaults to $GENLEAK_CONTROLLER_ADDR, then 127.0.0.1:50050; the token and TLS come from the
environment as for every genleak client (GENLEAK_AUTH_TOKEN, GENLEAK_TLS_*). Files the spec names must be
store URIs or absolute paths the controller can read.
"""

import argparse
import json
from pathlib import Path

from genleak.core.settings import Settings
from genleak.rpc.channels import open_channel, wait_for_job
from genleak.v1 import controller_pb2, controller_pb2_grpc

parser = argparse.ArgumentParser(description="Run an experiment on the controller and print its report.")
parser.add_argument("spec")
parser.add_argument("--run-name", default="")
parser.add_argument("--address")
args = parser.parse_args()
settings = Settings.from_env()
address = args.address or settings.controller_addr or "127.0.0.1:50050"

with open_channel(address, settings.auth_token, tls=settings.tls) as channel:
    stub = controller_pb2_grpc.ControllerServiceStub(channel)
    job = stub.StartExperiment(controller_pb2.StartExperimentRequest(spec_yaml=Path(args.spec).read_text(),
                                                                     run_name=args.run_name))
    print(f"job {job.job_id} started")
    done = wait_for_job(stub, job, lambda j: print(f"  {j.progress.done}/{j.progress.total} {j.progress.message}"))
    report = stub.GetReport(controller_pb2.GetReportRequest(job_id=done.job_id))
    print(report.report_markdown)
    content = json.loads(report.report_json)  # the whole report, as report.json in the store
    print(f"run {report.run_name} ({report.stamp}): report {report.report.uri}, keys: {', '.join(sorted(content))}")
