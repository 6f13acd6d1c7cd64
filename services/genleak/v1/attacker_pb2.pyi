from genleak.v1 import common_pb2 as _common_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExtractionParams(_message.Message):
    __slots__ = ("templates", "temperatures", "max_new_tokens", "top_k", "top_p", "threshold", "n_targets", "seed", "n_shots")
    TEMPLATES_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURES_FIELD_NUMBER: _ClassVar[int]
    MAX_NEW_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    N_TARGETS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    N_SHOTS_FIELD_NUMBER: _ClassVar[int]
    templates: _containers.RepeatedScalarFieldContainer[str]
    temperatures: _containers.RepeatedScalarFieldContainer[float]
    max_new_tokens: int
    top_k: int
    top_p: float
    threshold: float
    n_targets: int
    seed: int
    n_shots: int
    def __init__(self, templates: _Optional[_Iterable[str]] = ..., temperatures: _Optional[_Iterable[float]] = ..., max_new_tokens: _Optional[int] = ..., top_k: _Optional[int] = ..., top_p: _Optional[float] = ..., threshold: _Optional[float] = ..., n_targets: _Optional[int] = ..., seed: _Optional[int] = ..., n_shots: _Optional[int] = ...) -> None: ...

class StartExtractionRequest(_message.Message):
    __slots__ = ("model", "engine", "targets", "few_shot", "params", "perplexity_dataset", "perplexity_samples", "perplexity_fields")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    FEW_SHOT_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    PERPLEXITY_DATASET_FIELD_NUMBER: _ClassVar[int]
    PERPLEXITY_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    PERPLEXITY_FIELDS_FIELD_NUMBER: _ClassVar[int]
    model: _common_pb2.ModelRef
    engine: _common_pb2.EngineParams
    targets: _common_pb2.ArtifactRef
    few_shot: _common_pb2.ArtifactRef
    params: ExtractionParams
    perplexity_dataset: _common_pb2.ArtifactRef
    perplexity_samples: int
    perplexity_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, model: _Optional[_Union[_common_pb2.ModelRef, _Mapping]] = ..., engine: _Optional[_Union[_common_pb2.EngineParams, _Mapping]] = ..., targets: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., few_shot: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., params: _Optional[_Union[ExtractionParams, _Mapping]] = ..., perplexity_dataset: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., perplexity_samples: _Optional[int] = ..., perplexity_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class MIAAttack(_message.Message):
    __slots__ = ("name", "config")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    name: str
    config: _struct_pb2.Struct
    def __init__(self, name: _Optional[str] = ..., config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class MIAParams(_message.Message):
    __slots__ = ("n_samples", "min_words", "max_words", "max_tokens", "n_bootstrap", "fprs", "seed", "batch_size", "text_field")
    N_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    MIN_WORDS_FIELD_NUMBER: _ClassVar[int]
    MAX_WORDS_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    N_BOOTSTRAP_FIELD_NUMBER: _ClassVar[int]
    FPRS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_FIELD_NUMBER: _ClassVar[int]
    n_samples: int
    min_words: int
    max_words: int
    max_tokens: int
    n_bootstrap: int
    fprs: _containers.RepeatedScalarFieldContainer[float]
    seed: int
    batch_size: int
    text_field: str
    def __init__(self, n_samples: _Optional[int] = ..., min_words: _Optional[int] = ..., max_words: _Optional[int] = ..., max_tokens: _Optional[int] = ..., n_bootstrap: _Optional[int] = ..., fprs: _Optional[_Iterable[float]] = ..., seed: _Optional[int] = ..., batch_size: _Optional[int] = ..., text_field: _Optional[str] = ...) -> None: ...

class StartMembershipInferenceRequest(_message.Message):
    __slots__ = ("model", "engine", "members", "nonmembers", "attacks", "reference_model", "params", "perplexity_dataset")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    NONMEMBERS_FIELD_NUMBER: _ClassVar[int]
    ATTACKS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_MODEL_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    PERPLEXITY_DATASET_FIELD_NUMBER: _ClassVar[int]
    model: _common_pb2.ModelRef
    engine: _common_pb2.EngineParams
    members: _common_pb2.ArtifactRef
    nonmembers: _common_pb2.ArtifactRef
    attacks: _containers.RepeatedCompositeFieldContainer[MIAAttack]
    reference_model: _common_pb2.ModelRef
    params: MIAParams
    perplexity_dataset: _common_pb2.ArtifactRef
    def __init__(self, model: _Optional[_Union[_common_pb2.ModelRef, _Mapping]] = ..., engine: _Optional[_Union[_common_pb2.EngineParams, _Mapping]] = ..., members: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., nonmembers: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., attacks: _Optional[_Iterable[_Union[MIAAttack, _Mapping]]] = ..., reference_model: _Optional[_Union[_common_pb2.ModelRef, _Mapping]] = ..., params: _Optional[_Union[MIAParams, _Mapping]] = ..., perplexity_dataset: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ...) -> None: ...

class ScoreTextsRequest(_message.Message):
    __slots__ = ("model", "engine", "texts", "attacks", "reference_model", "max_tokens")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    ATTACKS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_MODEL_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    model: _common_pb2.ModelRef
    engine: _common_pb2.EngineParams
    texts: _containers.RepeatedScalarFieldContainer[str]
    attacks: _containers.RepeatedCompositeFieldContainer[MIAAttack]
    reference_model: _common_pb2.ModelRef
    max_tokens: int
    def __init__(self, model: _Optional[_Union[_common_pb2.ModelRef, _Mapping]] = ..., engine: _Optional[_Union[_common_pb2.EngineParams, _Mapping]] = ..., texts: _Optional[_Iterable[str]] = ..., attacks: _Optional[_Iterable[_Union[MIAAttack, _Mapping]]] = ..., reference_model: _Optional[_Union[_common_pb2.ModelRef, _Mapping]] = ..., max_tokens: _Optional[int] = ...) -> None: ...

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

class PIIDetectionParams(_message.Message):
    __slots__ = ("batch_size", "n_process")
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    N_PROCESS_FIELD_NUMBER: _ClassVar[int]
    batch_size: int
    n_process: int
    def __init__(self, batch_size: _Optional[int] = ..., n_process: _Optional[int] = ...) -> None: ...

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
    __slots__ = ("texts", "analyzer", "inventory", "params", "reveal")
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    INVENTORY_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    REVEAL_FIELD_NUMBER: _ClassVar[int]
    texts: _containers.RepeatedScalarFieldContainer[str]
    analyzer: _common_pb2.PIIAnalyzerParams
    inventory: PIIInventory
    params: PIIDetectionParams
    reveal: bool
    def __init__(self, texts: _Optional[_Iterable[str]] = ..., analyzer: _Optional[_Union[_common_pb2.PIIAnalyzerParams, _Mapping]] = ..., inventory: _Optional[_Union[PIIInventory, _Mapping]] = ..., params: _Optional[_Union[PIIDetectionParams, _Mapping]] = ..., reveal: _Optional[bool] = ...) -> None: ...

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

class PIISampleParams(_message.Message):
    __slots__ = ("n_unconditioned", "prefix", "prompts", "prompt_field", "n_prompted", "sampling")
    N_UNCONDITIONED_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    PROMPTS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_FIELD_NUMBER: _ClassVar[int]
    N_PROMPTED_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    n_unconditioned: int
    prefix: str
    prompts: _common_pb2.ArtifactRef
    prompt_field: str
    n_prompted: int
    sampling: _common_pb2.SamplingParams
    def __init__(self, n_unconditioned: _Optional[int] = ..., prefix: _Optional[str] = ..., prompts: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., prompt_field: _Optional[str] = ..., n_prompted: _Optional[int] = ..., sampling: _Optional[_Union[_common_pb2.SamplingParams, _Mapping]] = ...) -> None: ...

class StartPIIScanRequest(_message.Message):
    __slots__ = ("model", "engine", "samples", "texts", "text_field", "inventory", "finetune", "finetune_fields", "analyzer", "params", "reveal")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_FIELD_NUMBER: _ClassVar[int]
    INVENTORY_FIELD_NUMBER: _ClassVar[int]
    FINETUNE_FIELD_NUMBER: _ClassVar[int]
    FINETUNE_FIELDS_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    REVEAL_FIELD_NUMBER: _ClassVar[int]
    model: _common_pb2.ModelRef
    engine: _common_pb2.EngineParams
    samples: PIISampleParams
    texts: _common_pb2.ArtifactRef
    text_field: str
    inventory: PIIInventory
    finetune: _containers.RepeatedCompositeFieldContainer[_common_pb2.ArtifactRef]
    finetune_fields: _containers.RepeatedScalarFieldContainer[str]
    analyzer: _common_pb2.PIIAnalyzerParams
    params: PIIDetectionParams
    reveal: bool
    def __init__(self, model: _Optional[_Union[_common_pb2.ModelRef, _Mapping]] = ..., engine: _Optional[_Union[_common_pb2.EngineParams, _Mapping]] = ..., samples: _Optional[_Union[PIISampleParams, _Mapping]] = ..., texts: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., text_field: _Optional[str] = ..., inventory: _Optional[_Union[PIIInventory, _Mapping]] = ..., finetune: _Optional[_Iterable[_Union[_common_pb2.ArtifactRef, _Mapping]]] = ..., finetune_fields: _Optional[_Iterable[str]] = ..., analyzer: _Optional[_Union[_common_pb2.PIIAnalyzerParams, _Mapping]] = ..., params: _Optional[_Union[PIIDetectionParams, _Mapping]] = ..., reveal: _Optional[bool] = ...) -> None: ...
