from genleak.v1 import common_pb2 as _common_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StartExtractionRequest(_message.Message):
    __slots__ = ("model", "targets", "few_shot", "perplexity_dataset", "params")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    FEW_SHOT_FIELD_NUMBER: _ClassVar[int]
    PERPLEXITY_DATASET_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    model: _common_pb2.ModelRef
    targets: _common_pb2.ArtifactRef
    few_shot: _common_pb2.ArtifactRef
    perplexity_dataset: _common_pb2.ArtifactRef
    params: _struct_pb2.Struct
    def __init__(self, model: _Optional[_Union[_common_pb2.ModelRef, _Mapping]] = ..., targets: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., few_shot: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., perplexity_dataset: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class StartMembershipInferenceRequest(_message.Message):
    __slots__ = ("model", "members", "nonmembers", "reference_model", "perplexity_dataset", "params")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    NONMEMBERS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_MODEL_FIELD_NUMBER: _ClassVar[int]
    PERPLEXITY_DATASET_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    model: _common_pb2.ModelRef
    members: _common_pb2.ArtifactRef
    nonmembers: _common_pb2.ArtifactRef
    reference_model: _common_pb2.ModelRef
    perplexity_dataset: _common_pb2.ArtifactRef
    params: _struct_pb2.Struct
    def __init__(self, model: _Optional[_Union[_common_pb2.ModelRef, _Mapping]] = ..., members: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., nonmembers: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., reference_model: _Optional[_Union[_common_pb2.ModelRef, _Mapping]] = ..., perplexity_dataset: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class MembershipShard(_message.Message):
    __slots__ = ("scores", "result")
    SCORES_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    scores: _common_pb2.ArtifactRef
    result: _struct_pb2.Struct
    def __init__(self, scores: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., result: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class StartMembershipMergeRequest(_message.Message):
    __slots__ = ("model", "members", "nonmembers", "shards", "params")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    NONMEMBERS_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    model: _common_pb2.ModelRef
    members: _common_pb2.ArtifactRef
    nonmembers: _common_pb2.ArtifactRef
    shards: _containers.RepeatedCompositeFieldContainer[MembershipShard]
    params: _struct_pb2.Struct
    def __init__(self, model: _Optional[_Union[_common_pb2.ModelRef, _Mapping]] = ..., members: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., nonmembers: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., shards: _Optional[_Iterable[_Union[MembershipShard, _Mapping]]] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ScoreTextsRequest(_message.Message):
    __slots__ = ("model", "texts", "reference_model", "params")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_MODEL_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    model: _common_pb2.ModelRef
    texts: _containers.RepeatedScalarFieldContainer[str]
    reference_model: _common_pb2.ModelRef
    params: _struct_pb2.Struct
    def __init__(self, model: _Optional[_Union[_common_pb2.ModelRef, _Mapping]] = ..., texts: _Optional[_Iterable[str]] = ..., reference_model: _Optional[_Union[_common_pb2.ModelRef, _Mapping]] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class TextScores(_message.Message):
    __slots__ = ("scores", "n_tokens")
    class ScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    SCORES_FIELD_NUMBER: _ClassVar[int]
    N_TOKENS_FIELD_NUMBER: _ClassVar[int]
    scores: _containers.ScalarMap[str, float]
    n_tokens: int
    def __init__(self, scores: _Optional[_Mapping[str, float]] = ..., n_tokens: _Optional[int] = ...) -> None: ...

class ScoreTextsResponse(_message.Message):
    __slots__ = ("texts",)
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    texts: _containers.RepeatedCompositeFieldContainer[TextScores]
    def __init__(self, texts: _Optional[_Iterable[_Union[TextScores, _Mapping]]] = ...) -> None: ...

class PIIInventory(_message.Message):
    __slots__ = ("people", "people_fields", "corpus", "corpus_field")
    class PeopleFieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PEOPLE_FIELD_NUMBER: _ClassVar[int]
    PEOPLE_FIELDS_FIELD_NUMBER: _ClassVar[int]
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    CORPUS_FIELD_FIELD_NUMBER: _ClassVar[int]
    people: _common_pb2.ArtifactRef
    people_fields: _containers.ScalarMap[str, str]
    corpus: _common_pb2.ArtifactRef
    corpus_field: str
    def __init__(self, people: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., people_fields: _Optional[_Mapping[str, str]] = ..., corpus: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., corpus_field: _Optional[str] = ...) -> None: ...

class DetectPIIRequest(_message.Message):
    __slots__ = ("texts", "inventory", "params")
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    INVENTORY_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    texts: _containers.RepeatedScalarFieldContainer[str]
    inventory: PIIInventory
    params: _struct_pb2.Struct
    def __init__(self, texts: _Optional[_Iterable[str]] = ..., inventory: _Optional[_Union[PIIInventory, _Mapping]] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class PIIEntity(_message.Message):
    __slots__ = ("type", "start", "end", "score", "recognizer", "masked", "value_id", "real", "value")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    RECOGNIZER_FIELD_NUMBER: _ClassVar[int]
    MASKED_FIELD_NUMBER: _ClassVar[int]
    VALUE_ID_FIELD_NUMBER: _ClassVar[int]
    REAL_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    type: str
    start: int
    end: int
    score: float
    recognizer: str
    masked: str
    value_id: str
    real: bool
    value: str
    def __init__(self, type: _Optional[str] = ..., start: _Optional[int] = ..., end: _Optional[int] = ..., score: _Optional[float] = ..., recognizer: _Optional[str] = ..., masked: _Optional[str] = ..., value_id: _Optional[str] = ..., real: _Optional[bool] = ..., value: _Optional[str] = ...) -> None: ...

class TextPII(_message.Message):
    __slots__ = ("entities",)
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    entities: _containers.RepeatedCompositeFieldContainer[PIIEntity]
    def __init__(self, entities: _Optional[_Iterable[_Union[PIIEntity, _Mapping]]] = ...) -> None: ...

class DetectPIIResponse(_message.Message):
    __slots__ = ("texts",)
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    texts: _containers.RepeatedCompositeFieldContainer[TextPII]
    def __init__(self, texts: _Optional[_Iterable[_Union[TextPII, _Mapping]]] = ...) -> None: ...

class StartPIIScanRequest(_message.Message):
    __slots__ = ("model", "texts", "inventory", "finetune", "params")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    INVENTORY_FIELD_NUMBER: _ClassVar[int]
    FINETUNE_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    model: _common_pb2.ModelRef
    texts: _common_pb2.ArtifactRef
    inventory: PIIInventory
    finetune: _containers.RepeatedCompositeFieldContainer[_common_pb2.ArtifactRef]
    params: _struct_pb2.Struct
    def __init__(self, model: _Optional[_Union[_common_pb2.ModelRef, _Mapping]] = ..., texts: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., inventory: _Optional[_Union[PIIInventory, _Mapping]] = ..., finetune: _Optional[_Iterable[_Union[_common_pb2.ArtifactRef, _Mapping]]] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
