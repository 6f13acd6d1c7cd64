"""gRPC servicer for the finetuner: proto -> spec, call the core, job -> proto."""

from __future__ import annotations

import dataclasses

from genleak.core.jobs import JobManager
from genleak.core.specs import parse_spec
from genleak.finetuner.service import FinetunerCore, FineTuneJobSpec
from genleak.contracts.finetune import FineTuneParams
from genleak.contracts.lab import LabBuildParams
from genleak.finetuner.spec import FineTuneSpec
from genleak.rpc.convert import job_to_proto, message_to_dict, params_from_struct
from genleak.rpc.jobs_servicer import JobRpcMixin
from genleak.rpc.server import ServiceBinding
from genleak.v1 import finetuner_pb2, finetuner_pb2_grpc


def finetune_spec(request: finetuner_pb2.StartFineTuneRequest) -> FineTuneJobSpec:
    refs = message_to_dict(request)
    refs.pop("params", None)
    # Validated as the contract first: the caller sees params.<field>, and trust_remote_code is a
    # property of the model reference, not a training setting.
    params_from_struct(FineTuneParams, request.params)
    finetune = params_from_struct(FineTuneSpec, request.params, trust_remote_code=request.model.trust_remote_code)
    return parse_spec(FineTuneJobSpec, {**refs, "finetune": finetune})


class FinetunerServicer(JobRpcMixin, finetuner_pb2_grpc.FinetunerServiceServicer):
    job_kinds = ("finetune", "lab")

    def __init__(self, core: FinetunerCore, jobs: JobManager):
        self.core = core
        self.jobs = jobs

    def StartFineTune(self, request, context):
        spec = finetune_spec(request)
        self.core.preflight(spec)
        return job_to_proto(self.jobs.submit("finetune", spec, lambda r: self.core.run_finetune(spec, r)))

    def StartLabBuild(self, request, context):
        params = params_from_struct(LabBuildParams, request.params)
        return job_to_proto(self.jobs.submit("lab", params, lambda r: self.core.build_lab(params, r)))


def binding(core: FinetunerCore, jobs: JobManager) -> ServiceBinding:
    return ServiceBinding(FinetunerServicer(core, jobs), finetuner_pb2_grpc.add_FinetunerServiceServicer_to_server,
                          finetuner_pb2.DESCRIPTOR.services_by_name["FinetunerService"].full_name)


def build(settings, store, gate=None) -> ServiceBinding:
    core = FinetunerCore(store, settings.store.cache_dir / "work", settings.finetune_gpus)
    jobs = JobManager(settings.job_workers, settings.max_queued_jobs, gate)
    return dataclasses.replace(binding(core, jobs), on_stop=jobs.shutdown)
