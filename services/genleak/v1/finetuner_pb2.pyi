from genleak.v1 import common_pb2 as _common_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StartFineTuneRequest(_message.Message):
    __slots__ = ("model", "dataset", "params")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    model: _common_pb2.ModelRef
    dataset: _common_pb2.ArtifactRef
    params: _struct_pb2.Struct
    def __init__(self, model: _Optional[_Union[_common_pb2.ModelRef, _Mapping]] = ..., dataset: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class StartLabBuildRequest(_message.Message):
    __slots__ = ("params",)
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    params: _struct_pb2.Struct
    def __init__(self, params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
