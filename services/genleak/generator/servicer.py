"""gRPC servicer for the generator: proto -> spec, call the core, core result -> proto."""

from __future__ import annotations

import dataclasses

from genleak.core.jobs import JobManager
from genleak.engines import EngineCache
from genleak.engines.precision import PRECISION_CACHE_FOLDER, set_precision_cache_dir
from genleak.generator.service import EngineModelSpec, GenerateSpec, GenerationSpec, GeneratorCore
from genleak.contracts.generation import EngineChoice, GenerateParams, GenerationParams
from genleak.rpc.convert import job_from_request, job_to_proto
from genleak.rpc.jobs_servicer import JobRpcMixin
from genleak.rpc.server import ServiceBinding
from genleak.v1 import generator_pb2, generator_pb2_grpc


def generation_spec(request: generator_pb2.StartGenerationRequest) -> GenerationSpec:
    spec = job_from_request(GenerationSpec, GenerationParams, request)
    spec.task_config(where="params.config")  # the task's own checks, before a job is queued
    return spec


class GeneratorServicer(JobRpcMixin, generator_pb2_grpc.GeneratorServiceServicer):
    job_kinds = ("generation",)

    def __init__(self, core: GeneratorCore, jobs: JobManager):
        self.core = core
        self.jobs = jobs

    def StartGeneration(self, request, context):
        spec = generation_spec(request)
        self.core.preflight(spec)
        return job_to_proto(self.jobs.submit("generation", spec, lambda r: self.core.run_generation(spec, r)))

    def Generate(self, request, context):
        completions = self.core.generate(job_from_request(GenerateSpec, GenerateParams, request))
        return generator_pb2.GenerateResponse(completions=[generator_pb2.Completions(texts=c) for c in completions])


    def LoadModel(self, request, context):
        self.core.load_model(job_from_request(EngineModelSpec, EngineChoice, request))
        return self._loaded()

    def UnloadModel(self, request, context):
        spec = job_from_request(EngineModelSpec, EngineChoice, request)
        self.core.unload_model(spec, all_engines=spec.engine is None)
        return self._loaded()

    def ListModels(self, request, context):
        return self._loaded()

    def _loaded(self) -> generator_pb2.LoadedModels:
        engines = self.core.engines
        return generator_pb2.LoadedModels(
            capacity=engines.max_size,
            models=[generator_pb2.LoadedModel(model_dir=d, engine=e, leases=n) for d, e, n in engines.loaded()])


def binding(core: GeneratorCore, jobs: JobManager) -> ServiceBinding:
    return ServiceBinding(GeneratorServicer(core, jobs), generator_pb2_grpc.add_GeneratorServiceServicer_to_server,
                          generator_pb2.DESCRIPTOR.services_by_name["GeneratorService"].full_name)


def build(settings, store, gate=None) -> ServiceBinding:
    set_precision_cache_dir(settings.store.cache_dir / PRECISION_CACHE_FOLDER)
    engines = EngineCache(max_size=2)
    jobs = JobManager(settings.job_workers, settings.max_queued_jobs, gate)
    bound = binding(GeneratorCore(store, engines), jobs)
    return dataclasses.replace(bound, on_stop=lambda: (jobs.shutdown(), engines.close()))
