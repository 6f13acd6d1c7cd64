"""Proto <-> core conversions. Proto field names equal spec field names, so requests
convert generically: MessageToDict (explicitly set fields only) -> pydantic validation."""

from __future__ import annotations

from typing import Any, TypeVar

from google.protobuf import json_format, struct_pb2
from google.protobuf.message import Message

from genleak.core.jobs import JobSnapshot
from genleak.core.specs import Spec, parse_spec
from genleak.core.store import ArtifactRef
from genleak.v1 import common_pb2

T = TypeVar("T", bound=Spec)

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
