"""Proto <-> core conversions.

A job request carries its references (models, artifacts) as typed proto fields and its settings as
one `params` Struct whose schema is the job's contract (genleak.contracts); its result comes back
as a Struct with the contract's result schema. Typed messages convert generically too: proto field
names equal spec field names, so MessageToDict (explicitly set fields only) -> pydantic validation."""

from __future__ import annotations

from typing import Any, TypeVar

from google.protobuf import json_format, struct_pb2
from google.protobuf.message import Message
from pydantic import BaseModel

from genleak.core.errors import InvalidSpec
from genleak.core.jobs import JobSnapshot
from genleak.core.specs import Spec, parse_spec
from genleak.core.store import ArtifactRef
from genleak.v1 import common_pb2

T = TypeVar("T", bound=Spec)
R = TypeVar("R", bound=BaseModel)

_STATE = {
    "QUEUED": common_pb2.JOB_STATE_QUEUED,
    "RUNNING": common_pb2.JOB_STATE_RUNNING,
    "SUCCEEDED": common_pb2.JOB_STATE_SUCCEEDED,
    "FAILED": common_pb2.JOB_STATE_FAILED,
    "CANCELLED": common_pb2.JOB_STATE_CANCELLED,
}
STATE_NAMES = {v: k for k, v in _STATE.items()}


def message_to_dict(msg: Message) -> dict[str, Any]:
    return json_format.MessageToDict(msg, preserving_proto_field_name=True)


def spec_from_message(model: type[T], msg: Message, **extra: Any) -> T:
    return parse_spec(model, {**message_to_dict(msg), **extra})


def params_to_struct(params: Spec) -> struct_pb2.Struct:
    """A contract's params as the Struct a request carries (every field explicit)."""
    return dict_to_struct(params.model_dump(mode="json"))


def params_from_struct(model: type[T], struct: struct_pb2.Struct, where: str = "params", **extra: Any) -> T:
    """A request's `params` Struct validated by its contract; errors name `params.<field>`.

    A Struct holds every number as a double: whole numbers are made ints again before validation, so
    free-form knobs (a plugin's dict) hash as the caller wrote them; typed float fields take ints."""
    return parse_spec(model, {**restore_ints(struct_to_dict(struct)), **extra}, where=where)


def job_from_request(job: type[T], params: type[Spec], request: Message, **extra: Any) -> T:
    """A job spec from a request: its `params` Struct validated by the contract's params class (errors
    name params.<field>), plus the request's typed references (models, artifacts) and `extra`."""
    checked = params_from_struct(params, request.params).model_dump()
    refs = message_to_dict(request)
    refs.pop("params", None)
    try:
        return parse_spec(job, {**refs, **checked, **extra})
    except InvalidSpec as exc:  # the job's own checks (a registry, a cross-field rule) on a params field
        root = (exc.field or "").split(".")[0]
        if root in checked and root not in refs:
            raise InvalidSpec(exc.message.removeprefix(f"{exc.field}: "), field=f"params.{exc.field}") from None
        raise


def result_from_job(model: type[R], job: common_pb2.Job) -> R:
    """A finished job's result, typed by its contract (Struct numbers are doubles; the contract's
    int fields take them back as ints)."""
    return model.model_validate(struct_to_dict(job.result))


def dict_to_struct(data: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(data)
    return struct


def struct_to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as plain Python values; numbers stay floats and NaN is allowed (json_format refuses
    it, and metrics such as an unbootstrapped confidence interval are NaN)."""
    return _plain(struct)


def _plain(value: Any) -> Any:
    if isinstance(value, struct_pb2.Struct):
        return {k: _plain(v) for k, v in value.fields.items()}
    if isinstance(value, struct_pb2.ListValue):
        return [_plain(v) for v in value.values]
    kind = value.WhichOneof("kind")
    if kind in ("struct_value", "list_value"):
        return _plain(getattr(value, kind))
    return None if kind in (None, "null_value") else getattr(value, kind)


def restore_ints(value: Any) -> Any:
    """Struct carries every number as a double; counts in stats read better as ints again."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: restore_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [restore_ints(v) for v in value]
    return value


def ref_to_proto(ref: ArtifactRef) -> common_pb2.ArtifactRef:
    return common_pb2.ArtifactRef(uri=ref.uri, sha256=ref.sha256, kind=ref.kind)


def ref_from_proto(msg: common_pb2.ArtifactRef) -> ArtifactRef:
    return ArtifactRef(uri=msg.uri, sha256=msg.sha256, kind=msg.kind)


def job_to_proto(snap: JobSnapshot) -> common_pb2.Job:
    job = common_pb2.Job(
        job_id=snap.job_id,
        kind=snap.kind,
        state=_STATE[snap.state.value],
        progress=common_pb2.Progress(stage=snap.stage, done=snap.done, total=snap.total, message=snap.message),
        cached=snap.output.cached,
        created_at=snap.created_at,
        finished_at=snap.finished_at,
    )
    if snap.error_code:
        job.error.CopyFrom(common_pb2.JobError(code=snap.error_code, message=snap.error_message))
    for role, ref in snap.output.artifacts.items():
        job.artifacts[role].CopyFrom(ref_to_proto(ref))
    if snap.output.result:
        job.result.CopyFrom(dict_to_struct(snap.output.result))
    return job
