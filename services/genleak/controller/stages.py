"""One function per experiment stage: build the request, submit the job, follow it to the end
(submitting again, with backoff, when the service was lost: genleak.rpc.retry).

Stages talk to services only through the v1 stubs. Each returns plain data (refs, dicts).
"""

from __future__ import annotations

from typing import Any, Callable

from genleak.contracts.engine import EngineConfig
from genleak.contracts.extraction import ExtractionJobResult
from genleak.contracts.finetune import FineTuneJobResult
from genleak.contracts.lab import LabBuildParams, LabBuildResult
from genleak.contracts.generation import GenerationParams, generation_result_type
from genleak.contracts.membership import MembershipJobResult
from genleak.controller.spec import AttackSpec, FineTuneSpec, GeneratorSpec, LeakageSpec, MembershipSpec
from genleak.controller.sweep import Setting
from genleak.contracts.pii_scan import PIIScanResult
from genleak.rpc.retry import run_job
from genleak.core.store import ArtifactRef
from genleak.rpc.convert import params_to_struct, ref_from_proto, restore_ints, result_from_job, struct_to_dict
from genleak.v1 import attacker_pb2, common_pb2, finetuner_pb2, generator_pb2

OnUpdate = Callable[[common_pb2.Job], None]


def build_lab(stub, lab: LabBuildParams, on_update: OnUpdate) -> tuple[dict[str, ArtifactRef], dict[str, Any]]:
    """The built-in lab from the finetuner (built there once per config, found in the store after):
    its artifacts by name and its summary (lab.json)."""
    request = finetuner_pb2.StartLabBuildRequest(params=params_to_struct(lab))
    job = run_job(lambda: stub.StartLabBuild(request), stub, on_update)
    refs = {name: ref_from_proto(ref) for name, ref in job.artifacts.items()}
    return refs, result_from_job(LabBuildResult, job).model_dump(mode="json")


def generate_dataset(stub, spec: GeneratorSpec, model_uri: str, source: common_pb2.ArtifactRef,
                     on_update: OnUpdate, scrub: bool = False) -> tuple[common_pb2.ArtifactRef, dict[str, Any]]:
    """`source` is the prompts dataset (continuation) or the seed tasks (self_instruct); `scrub`
    replaces PII in it first (spec.scrub). Returns the generated dataset and the task's stats."""
    request = generation_request(spec.params(scrub), model_uri, source)
    job = run_job(lambda: stub.StartGeneration(request), stub, on_update)
    return job.artifacts["dataset"], generation_result(job.result, spec.task)


def generation_request(params: GenerationParams, model_uri: str,
                       source: common_pb2.ArtifactRef) -> generator_pb2.StartGenerationRequest:
    """A StartGeneration request (controller.sharding sends one per shard, with the shard's offset and limit)."""
    return generator_pb2.StartGenerationRequest(model=common_pb2.ModelRef(uri=model_uri), dataset=source,
                                                params=params_to_struct(params))


def generation_result(struct, task: str) -> dict[str, Any]:
    """A generation job's result as it reads from the job's Struct, typed by the task's result contract."""
    return generation_result_type(task).model_validate(restore_ints(struct_to_dict(struct))).model_dump(
        mode="json", exclude_none=True)


def finetune(stub, spec: FineTuneSpec, setting: Setting, model_uri: str, dataset: common_pb2.ArtifactRef,
             data_format: str, on_update: OnUpdate,
             on_compute: Callable[[dict[str, Any] | None], None] | None = None) -> dict[int, common_pb2.ArtifactRef]:
    """One fine-tune of a sweep `setting` (method, learning rate, seed); returns the merged
    checkpoint of every epoch, by epoch number (`on_compute` gets the job's record of what ran where)."""
    request = finetuner_pb2.StartFineTuneRequest(model=common_pb2.ModelRef(uri=model_uri), dataset=dataset,
                                                 params=params_to_struct(spec.params(setting, data_format)))
    job = run_job(lambda: stub.StartFineTune(request), stub, on_update)
    if on_compute is not None:
        record = result_from_job(FineTuneJobResult, job).compute
        on_compute(record.model_dump(mode="json") if record is not None else None)
    return {int(role.split("/")[0].split("-")[1]): ref for role, ref in job.artifacts.items() if role.endswith("/merged")}


def extract(stub, spec: AttackSpec, model_uri: str, targets: common_pb2.ArtifactRef, few_shot: common_pb2.ArtifactRef,
            on_update: OnUpdate, perplexity_texts: common_pb2.ArtifactRef | None = None) -> dict[str, Any]:
    """The extraction attack on one model (and its held-out perplexity when `perplexity_texts` is given)."""
    request = attacker_pb2.StartExtractionRequest(model=common_pb2.ModelRef(uri=model_uri), targets=targets,
                                                  few_shot=few_shot, params=params_to_struct(spec.params()))
    if perplexity_texts is not None:
        request.perplexity_dataset.CopyFrom(perplexity_texts)
    job = run_job(lambda: stub.StartExtraction(request), stub, on_update)
    result = result_from_job(ExtractionJobResult, job).model_dump(mode="json", exclude_none=True)
    result["outputs_uri"] = job.artifacts["outputs"].uri if "outputs" in job.artifacts else ""
    return result


def membership(stub, spec: MembershipSpec, model_uri: str, datasets: dict[str, common_pb2.ArtifactRef],
               reference_uri: str | None, on_update: OnUpdate) -> dict[str, Any]:
    """Membership inference on one model; `datasets` holds members, nonmembers (and perplexity)."""
    request = membership_request(spec, model_uri, datasets, reference_uri)
    return membership_result(run_job(lambda: stub.StartMembershipInference(request), stub, on_update))


def membership_request(spec: MembershipSpec, model_uri: str, datasets: dict[str, common_pb2.ArtifactRef],
                       reference_uri: str | None) -> attacker_pb2.StartMembershipInferenceRequest:
    """The one StartMembershipInference request of an unsharded attack (controller.sharding slices it)."""
    request = attacker_pb2.StartMembershipInferenceRequest(
        model=common_pb2.ModelRef(uri=model_uri), members=datasets["members"], nonmembers=datasets["nonmembers"],
        params=params_to_struct(spec.params()))
    if reference_uri:
        request.reference_model.CopyFrom(common_pb2.ModelRef(uri=reference_uri))
    if "perplexity" in datasets:
        request.perplexity_dataset.CopyFrom(datasets["perplexity"])
    return request


def membership_result(job: common_pb2.Job) -> dict[str, Any]:
    result = membership_result_dict(job.result)
    result["scores_uri"] = job.artifacts["scores"].uri
    result["roc_uri"] = job.artifacts["roc"].uri
    return result


def membership_result_dict(struct) -> dict[str, Any]:
    """A membership result as it reads from a job's Struct, typed by the contract."""
    return MembershipJobResult.model_validate(struct_to_dict(struct)).model_dump(mode="json", exclude_none=True)


def leakage_scan(stub, spec: LeakageSpec, engine: EngineConfig, model_uri: str, people: common_pb2.ArtifactRef | None,
                 finetune: list[common_pb2.ArtifactRef], training_texts: common_pb2.ArtifactRef | None,
                 on_update: OnUpdate) -> dict[str, Any]:
    """Untargeted PII scan of one model's unconditioned samples (and, given, of its training texts).
    The result holds counts only; values stay in the (masked unless `reveal`) findings artifact."""
    request = attacker_pb2.StartPIIScanRequest(model=common_pb2.ModelRef(uri=model_uri), finetune=finetune,
                                               params=params_to_struct(spec.params(engine)))
    if people is not None:
        request.inventory.CopyFrom(attacker_pb2.PIIInventory(people=people))
    if training_texts is not None:
        request.texts.CopyFrom(training_texts)
    job = run_job(lambda: stub.StartPIIScan(request), stub, on_update)
    result = result_from_job(PIIScanResult, job).model_dump(mode="json", exclude_unset=True)
    result["findings_uri"] = job.artifacts["findings"].uri
    return result
