from genleak.v1 import common_pb2 as _common_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ContinuationParams(_message.Message):
    __slots__ = ("prompt_field", "max_prompt_tokens", "keep_prompt", "limit", "offset")
    PROMPT_FIELD_FIELD_NUMBER: _ClassVar[int]
    MAX_PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    KEEP_PROMPT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    prompt_field: str
    max_prompt_tokens: int
    keep_prompt: bool
    limit: int
    offset: int
    def __init__(self, prompt_field: _Optional[str] = ..., max_prompt_tokens: _Optional[int] = ..., keep_prompt: _Optional[bool] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class StartGenerationRequest(_message.Message):
    __slots__ = ("model", "engine", "dataset", "task", "sampling", "continuation", "config", "scrub")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    CONTINUATION_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    SCRUB_FIELD_NUMBER: _ClassVar[int]
    model: _common_pb2.ModelRef
    engine: _common_pb2.EngineParams
    dataset: _common_pb2.ArtifactRef
    task: str
    sampling: _common_pb2.SamplingParams
    continuation: ContinuationParams
    config: _struct_pb2.Struct
    scrub: ScrubParams
    def __init__(self, model: _Optional[_Union[_common_pb2.ModelRef, _Mapping]] = ..., engine: _Optional[_Union[_common_pb2.EngineParams, _Mapping]] = ..., dataset: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., task: _Optional[str] = ..., sampling: _Optional[_Union[_common_pb2.SamplingParams, _Mapping]] = ..., continuation: _Optional[_Union[ContinuationParams, _Mapping]] = ..., config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., scrub: _Optional[_Union[ScrubParams, _Mapping]] = ...) -> None: ...

class ScrubParams(_message.Message):
    __slots__ = ("entities", "fields", "seed", "locale", "email_domain", "analyzer", "batch_size", "n_process")
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    EMAIL_DOMAIN_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    N_PROCESS_FIELD_NUMBER: _ClassVar[int]
    entities: _containers.RepeatedScalarFieldContainer[str]
    fields: _containers.RepeatedScalarFieldContainer[str]
    seed: int
    locale: str
    email_domain: str
    analyzer: _common_pb2.PIIAnalyzerParams
    batch_size: int
    n_process: int
    def __init__(self, entities: _Optional[_Iterable[str]] = ..., fields: _Optional[_Iterable[str]] = ..., seed: _Optional[int] = ..., locale: _Optional[str] = ..., email_domain: _Optional[str] = ..., analyzer: _Optional[_Union[_common_pb2.PIIAnalyzerParams, _Mapping]] = ..., batch_size: _Optional[int] = ..., n_process: _Optional[int] = ...) -> None: ...

class GenerateRequest(_message.Message):
    __slots__ = ("model", "engine", "prompts", "sampling")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    PROMPTS_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    model: _common_pb2.ModelRef
    engine: _common_pb2.EngineParams
    prompts: _containers.RepeatedScalarFieldContainer[str]
    sampling: _common_pb2.SamplingParams
    def __init__(self, model: _Optional[_Union[_common_pb2.ModelRef, _Mapping]] = ..., engine: _Optional[_Union[_common_pb2.EngineParams, _Mapping]] = ..., prompts: _Optional[_Iterable[str]] = ..., sampling: _Optional[_Union[_common_pb2.SamplingParams, _Mapping]] = ...) -> None: ...

class Completions(_message.Message):
    __slots__ = ("texts",)
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    texts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, texts: _Optional[_Iterable[str]] = ...) -> None: ...

class GenerateResponse(_message.Message):
    __slots__ = ("completions",)
    COMPLETIONS_FIELD_NUMBER: _ClassVar[int]
    completions: _containers.RepeatedCompositeFieldContainer[Completions]
    def __init__(self, completions: _Optional[_Iterable[_Union[Completions, _Mapping]]] = ...) -> None: ...

class LoadModelRequest(_message.Message):
    __slots__ = ("model", "engine")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    model: _common_pb2.ModelRef
    engine: _common_pb2.EngineParams
    def __init__(self, model: _Optional[_Union[_common_pb2.ModelRef, _Mapping]] = ..., engine: _Optional[_Union[_common_pb2.EngineParams, _Mapping]] = ...) -> None: ...

class UnloadModelRequest(_message.Message):
    __slots__ = ("model", "engine")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    model: _common_pb2.ModelRef
    engine: _common_pb2.EngineParams
    def __init__(self, model: _Optional[_Union[_common_pb2.ModelRef, _Mapping]] = ..., engine: _Optional[_Union[_common_pb2.EngineParams, _Mapping]] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LoadedModel(_message.Message):
    __slots__ = ("model_dir", "engine", "leases")
    MODEL_DIR_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    LEASES_FIELD_NUMBER: _ClassVar[int]
    model_dir: str
    engine: str
    leases: int
    def __init__(self, model_dir: _Optional[str] = ..., engine: _Optional[str] = ..., leases: _Optional[int] = ...) -> None: ...

class LoadedModels(_message.Message):
    __slots__ = ("models", "capacity")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[LoadedModel]
    capacity: int
    def __init__(self, models: _Optional[_Iterable[_Union[LoadedModel, _Mapping]]] = ..., capacity: _Optional[int] = ...) -> None: ...
