from genleak.v1 import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class StartExperimentRequest(_message.Message):
    __slots__ = ("spec_yaml", "run_name")
    SPEC_YAML_FIELD_NUMBER: _ClassVar[int]
    RUN_NAME_FIELD_NUMBER: _ClassVar[int]
    spec_yaml: str
    run_name: str
    def __init__(self, spec_yaml: _Optional[str] = ..., run_name: _Optional[str] = ...) -> None: ...
