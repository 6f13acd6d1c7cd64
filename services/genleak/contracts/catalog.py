"""Which contract each job has: the `params` a request carries and the result its job returns.

`genleak schema JOB` prints these as JSON Schema, for callers that build requests by hand (grpcurl,
another language's client).
"""

from __future__ import annotations

from typing import NamedTuple

from pydantic import BaseModel

from genleak.contracts.extraction import ExtractionJobResult, ExtractionParams
from genleak.contracts.finetune import FineTuneJobResult, FineTuneParams
from genleak.contracts.generation import GenerateParams, GenerationOutcome, GenerationParams
from genleak.contracts.lab import LabBuildParams, LabBuildResult
from genleak.contracts.membership import MembershipJobResult, MembershipParams, ScoreTextsParams
from genleak.contracts.pii_scan import DetectPIIParams, PIIScanParams, PIIScanResult


class JobContract(NamedTuple):
    rpc: str
    params: type[BaseModel]
    result: type[BaseModel] | None  # None: the RPC answers with a typed response message, not a job


JOB_CONTRACTS: dict[str, JobContract] = {
    # The result is the task's: ContinuationResult or SelfInstructResult (genleak.contracts.generation).
    "generation": JobContract("genleak.v1.GeneratorService/StartGeneration", GenerationParams, GenerationOutcome),
    "generate": JobContract("genleak.v1.GeneratorService/Generate", GenerateParams, None),
    "finetune": JobContract("genleak.v1.FinetunerService/StartFineTune", FineTuneParams, FineTuneJobResult),
    "extraction": JobContract("genleak.v1.AttackerService/StartExtraction", ExtractionParams, ExtractionJobResult),
    "membership": JobContract("genleak.v1.AttackerService/StartMembershipInference", MembershipParams,
                              MembershipJobResult),
    "membership_merge": JobContract("genleak.v1.AttackerService/StartMembershipMerge", MembershipParams,
                                    MembershipJobResult),
    "score_texts": JobContract("genleak.v1.AttackerService/ScoreTexts", ScoreTextsParams, None),
    "pii_scan": JobContract("genleak.v1.AttackerService/StartPIIScan", PIIScanParams, PIIScanResult),
    "detect_pii": JobContract("genleak.v1.AttackerService/DetectPII", DetectPIIParams, None),
    "lab_build": JobContract("genleak.v1.FinetunerService/StartLabBuild", LabBuildParams, LabBuildResult),
}
