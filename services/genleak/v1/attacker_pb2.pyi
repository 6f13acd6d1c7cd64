from genleak.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExtractionParams(_message.Message):
    __slots__ = ("templates", "temperatures", "max_new_tokens", "top_k", "top_p", "threshold", "n_targets", "seed")
    TEMPLATES_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURES_FIELD_NUMBER: _ClassVar[int]
    MAX_NEW_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    N_TARGETS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    templates: _containers.RepeatedScalarFieldContainer[str]
    temperatures: _containers.RepeatedScalarFieldContainer[float]
    max_new_tokens: int
    top_k: int
    top_p: float
    threshold: float
    n_targets: int
    seed: int
    def __init__(self, templates: _Optional[_Iterable[str]] = ..., temperatures: _Optional[_Iterable[float]] = ..., max_new_tokens: _Optional[int] = ..., top_k: _Optional[int] = ..., top_p: _Optional[float] = ..., threshold: _Optional[float] = ..., n_targets: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class StartExtractionRequest(_message.Message):
    __slots__ = ("model", "engine", "targets", "few_shot", "params")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    FEW_SHOT_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    model: _common_pb2.ModelRef
    engine: _common_pb2.EngineParams
    targets: _common_pb2.ArtifactRef
    few_shot: _common_pb2.ArtifactRef
    params: ExtractionParams
    def __init__(self, model: _Optional[_Union[_common_pb2.ModelRef, _Mapping]] = ..., engine: _Optional[_Union[_common_pb2.EngineParams, _Mapping]] = ..., targets: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., few_shot: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., params: _Optional[_Union[ExtractionParams, _Mapping]] = ...) -> None: ...
