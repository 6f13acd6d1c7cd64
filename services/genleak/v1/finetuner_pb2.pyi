from genleak.v1 import common_pb2 as _common_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TrainParams(_message.Message):
    __slots__ = ("epochs", "learning_rate", "batch_size", "grad_accum", "max_length", "weight_decay", "warmup_ratio", "seed", "last_n", "dtype")
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    GRAD_ACCUM_FIELD_NUMBER: _ClassVar[int]
    MAX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_DECAY_FIELD_NUMBER: _ClassVar[int]
    WARMUP_RATIO_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    LAST_N_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    epochs: int
    learning_rate: float
    batch_size: int
    grad_accum: int
    max_length: int
    weight_decay: float
    warmup_ratio: float
    seed: int
    last_n: int
    dtype: str
    def __init__(self, epochs: _Optional[int] = ..., learning_rate: _Optional[float] = ..., batch_size: _Optional[int] = ..., grad_accum: _Optional[int] = ..., max_length: _Optional[int] = ..., weight_decay: _Optional[float] = ..., warmup_ratio: _Optional[float] = ..., seed: _Optional[int] = ..., last_n: _Optional[int] = ..., dtype: _Optional[str] = ...) -> None: ...

class DataFormatParams(_message.Message):
    __slots__ = ("format", "text_field", "prompt_field", "continuation_field", "instruction_field", "input_field", "output_field", "train_on_prompt")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_FIELD_NUMBER: _ClassVar[int]
    CONTINUATION_FIELD_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTION_FIELD_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_FIELD_NUMBER: _ClassVar[int]
    TRAIN_ON_PROMPT_FIELD_NUMBER: _ClassVar[int]
    format: str
    text_field: str
    prompt_field: str
    continuation_field: str
    instruction_field: str
    input_field: str
    output_field: str
    train_on_prompt: bool
    def __init__(self, format: _Optional[str] = ..., text_field: _Optional[str] = ..., prompt_field: _Optional[str] = ..., continuation_field: _Optional[str] = ..., instruction_field: _Optional[str] = ..., input_field: _Optional[str] = ..., output_field: _Optional[str] = ..., train_on_prompt: _Optional[bool] = ...) -> None: ...

class StartFineTuneRequest(_message.Message):
    __slots__ = ("model", "dataset", "method", "method_config", "train", "data")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    METHOD_CONFIG_FIELD_NUMBER: _ClassVar[int]
    TRAIN_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    model: _common_pb2.ModelRef
    dataset: _common_pb2.ArtifactRef
    method: str
    method_config: _struct_pb2.Struct
    train: TrainParams
    data: DataFormatParams
    def __init__(self, model: _Optional[_Union[_common_pb2.ModelRef, _Mapping]] = ..., dataset: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., method: _Optional[str] = ..., method_config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., train: _Optional[_Union[TrainParams, _Mapping]] = ..., data: _Optional[_Union[DataFormatParams, _Mapping]] = ...) -> None: ...
