"""gRPC servicer for the controller: a thin layer over ControllerCore."""

from __future__ import annotations

import dataclasses

from genleak.controller.reports import get_report
from genleak.controller.service import ControllerCore
from genleak.core.jobs import JobManager
from genleak.rpc.convert import job_to_proto, ref_to_proto
from genleak.rpc.jobs_servicer import JobRpcMixin
from genleak.rpc.server import ServiceBinding
from genleak.v1 import controller_pb2, controller_pb2_grpc


class ControllerServicer(JobRpcMixin, controller_pb2_grpc.ControllerServiceServicer):
    job_kinds = ("experiment",)

    def __init__(self, core: ControllerCore, jobs: JobManager):
        self.core = core
        self.jobs = jobs

    def StartExperiment(self, request: controller_pb2.StartExperimentRequest, context):
        experiment = self.core.parse_request(request.spec_yaml, request.run_name)
        snap = self.jobs.submit("experiment", experiment, lambda r: self.core.run_experiment(experiment, r))
        return job_to_proto(snap)

    def GetReport(self, request: controller_pb2.GetReportRequest, context):
        found = get_report(self.core.store, self.jobs, request.job_id, request.run_name, request.stamp)
        return controller_pb2.GetReportResponse(report=ref_to_proto(found.ref), report_json=found.report_json,
                                                report_markdown=found.report_markdown, run_name=found.run,
                                                stamp=found.stamp)


def binding(core: ControllerCore, jobs: JobManager) -> ServiceBinding:
    return ServiceBinding(ControllerServicer(core, jobs), controller_pb2_grpc.add_ControllerServiceServicer_to_server,
                          controller_pb2.DESCRIPTOR.services_by_name["ControllerService"].full_name)


def build(settings, store) -> ServiceBinding:
    from genleak.controller.clients import ServiceClients
    from genleak.core.errors import InvalidSpec

    missing = [n for n in ("generator_addr", "finetuner_addr", "attacker_addr") if not getattr(settings, n)]
    if missing:
        raise InvalidSpec("controller needs the worker addresses: set " + ", ".join(f"GENLEAK_{m.upper()}" for m in missing))
    clients = ServiceClients.connect(settings.generator_addr, settings.finetuner_addr, settings.attacker_addr,
                                     settings.auth_token, tls=settings.tls, lb_policy=settings.grpc_lb_policy)
    core = ControllerCore(store, clients)  # the lab comes from the finetuner's StartLabBuild
    jobs = JobManager(workers=2, max_queued=settings.max_queued_jobs)
    return dataclasses.replace(binding(core, jobs), on_stop=lambda: (jobs.shutdown(), clients.close()))
