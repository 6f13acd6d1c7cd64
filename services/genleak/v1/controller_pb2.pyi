from genleak.v1 import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StartExperimentRequest(_message.Message):
    __slots__ = ("spec_yaml", "run_name")
    SPEC_YAML_FIELD_NUMBER: _ClassVar[int]
    RUN_NAME_FIELD_NUMBER: _ClassVar[int]
    spec_yaml: str
    run_name: str
    def __init__(self, spec_yaml: _Optional[str] = ..., run_name: _Optional[str] = ...) -> None: ...

class GetReportRequest(_message.Message):
    __slots__ = ("job_id", "run_name", "stamp")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_NAME_FIELD_NUMBER: _ClassVar[int]
    STAMP_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    run_name: str
    stamp: str
    def __init__(self, job_id: _Optional[str] = ..., run_name: _Optional[str] = ..., stamp: _Optional[str] = ...) -> None: ...

class GetReportResponse(_message.Message):
    __slots__ = ("report", "report_json", "report_markdown", "run_name", "stamp")
    REPORT_FIELD_NUMBER: _ClassVar[int]
    REPORT_JSON_FIELD_NUMBER: _ClassVar[int]
    REPORT_MARKDOWN_FIELD_NUMBER: _ClassVar[int]
    RUN_NAME_FIELD_NUMBER: _ClassVar[int]
    STAMP_FIELD_NUMBER: _ClassVar[int]
    report: _common_pb2.ArtifactRef
    report_json: str
    report_markdown: str
    run_name: str
    stamp: str
    def __init__(self, report: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., report_json: _Optional[str] = ..., report_markdown: _Optional[str] = ..., run_name: _Optional[str] = ..., stamp: _Optional[str] = ...) -> None: ...
