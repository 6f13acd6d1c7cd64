"""gRPC servicer for the attacker: proto -> spec, call the core, job -> proto."""

from __future__ import annotations

import dataclasses

from genleak.attacker.extraction.job import ExtractionJobSpec
from genleak.attacker.mia.job import MIAJobSpec, ScoreTextsSpec
from genleak.attacker.mia.neighbourhood import NEIGHBOURS_CACHE_FOLDER, set_neighbour_cache_dir
from genleak.attacker.pii_scan.job import DetectPIISpec, PIIScanJobSpec
from genleak.attacker.service import AttackerCore
from genleak.core.jobs import CallLimiter, JobManager
from genleak.engines import EngineCache
from genleak.engines.precision import PRECISION_CACHE_FOLDER, set_precision_cache_dir
from genleak.contracts.extraction import ExtractionParams
from genleak.contracts.membership import MembershipParams, ScoreTextsParams
from genleak.contracts.pii_scan import DetectPIIParams, PIIScanParams
from genleak.attacker.mia.merge import MIAMergeJobSpec
from genleak.rpc.convert import job_from_request, job_to_proto, message_to_dict, struct_to_dict
from genleak.rpc.jobs_servicer import JobRpcMixin
from genleak.rpc.server import ServiceBinding
from genleak.v1 import attacker_pb2, attacker_pb2_grpc


class AttackerServicer(JobRpcMixin, attacker_pb2_grpc.AttackerServiceServicer):
    job_kinds = ("extraction", "mia", "mia-merge", "pii_scan")

    def __init__(self, core: AttackerCore, jobs: JobManager, calls: CallLimiter | None = None):
        self.core = core
        self.jobs = jobs
        self.calls = calls or CallLimiter()  # bounds the synchronous model calls (ScoreTexts, DetectPII)

    def StartExtraction(self, request, context):
        spec = job_from_request(ExtractionJobSpec, ExtractionParams, request)
        self.core.preflight(spec)
        return job_to_proto(self.jobs.submit("extraction", spec, lambda r: self.core.run_extraction(spec, r)))

    def StartMembershipInference(self, request, context):
        spec = job_from_request(MIAJobSpec, MembershipParams, request)
        self.core.preflight_mia(spec)
        return job_to_proto(self.jobs.submit("mia", spec, lambda r: self.core.run_mia(spec, r)))

    def StartMembershipMerge(self, request, context):
        # Shard results carry NaN (shards skip the bootstrap), which MessageToDict refuses: read them as Structs.
        shards = [{"scores": message_to_dict(s.scores), "result": struct_to_dict(s.result)} for s in request.shards]
        refs = attacker_pb2.StartMembershipMergeRequest()
        refs.CopyFrom(request)
        refs.ClearField("shards")
        spec = job_from_request(MIAMergeJobSpec, MembershipParams, refs, shards=shards)
        self.core.preflight_merge(spec)
        return job_to_proto(self.jobs.submit("mia-merge", spec, lambda r: self.core.run_merge(spec, r)))

    def ScoreTexts(self, request, context):
        spec = job_from_request(ScoreTextsSpec, ScoreTextsParams, request)
        with self.calls.slot("ScoreTexts"):
            rows = self.core.score_texts(spec)
        return attacker_pb2.ScoreTextsResponse(
            texts=[attacker_pb2.TextScores(scores=row["scores"], n_tokens=row["n_tokens"]) for row in rows])

    def DetectPII(self, request, context):
        spec = job_from_request(DetectPIISpec, DetectPIIParams, request)
        with self.calls.slot("DetectPII"):
            texts = self.core.detect_pii(spec)
        return attacker_pb2.DetectPIIResponse(
            texts=[attacker_pb2.TextPII(entities=[attacker_pb2.PIIEntity(**e) for e in found]) for found in texts])

    def StartPIIScan(self, request, context):
        spec = job_from_request(PIIScanJobSpec, PIIScanParams, request)
        self.core.preflight_pii_scan(spec)
        return job_to_proto(self.jobs.submit("pii_scan", spec, lambda r: self.core.run_pii_scan(spec, r)))


def binding(core: AttackerCore, jobs: JobManager, calls: CallLimiter | None = None) -> ServiceBinding:
    return ServiceBinding(AttackerServicer(core, jobs, calls), attacker_pb2_grpc.add_AttackerServiceServicer_to_server,
                          attacker_pb2.DESCRIPTOR.services_by_name["AttackerService"].full_name)


def build(settings, store, gate=None) -> ServiceBinding:
    set_precision_cache_dir(settings.store.cache_dir / PRECISION_CACHE_FOLDER)
    set_neighbour_cache_dir(settings.store.cache_dir / NEIGHBOURS_CACHE_FOLDER)
    engines = EngineCache(max_size=2)
    jobs = JobManager(settings.job_workers, settings.max_queued_jobs, gate)
    calls = CallLimiter(settings.max_concurrent_calls, settings.max_queued_calls)
    bound = binding(AttackerCore(store, engines, settings.pii_salt), jobs, calls)
    return dataclasses.replace(bound, on_stop=lambda: (jobs.shutdown(), engines.close()))
