"""FineTuneSpec: method + its typed hyper-parameters + training + data format. Imports no torch."""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from genleak.core.specs import Spec
from genleak.finetuner.config import DataFormat, TrainConfig
from genleak.finetuner.methods import get_method, method_names
from genleak.finetuner.methods.registry import MethodPlugin


class FineTuneSpec(Spec):
    method: str = Field("lora", description="Registered fine-tune method: lora | dora | pissa | full (paper: lora)")
    method_config: dict[str, Any] = Field(
        default_factory=dict,
        validate_default=True,
        description="The method's hyper-parameters; validated by its config class, with every default filled in",
    )
    train: TrainConfig = Field(default_factory=TrainConfig, description="Optimisation settings")
    data: DataFormat = Field(default_factory=DataFormat, description="Which record fields make the training text")
    trust_remote_code: bool = Field(False, description="Allow model code shipped with the checkpoint to run")

    @field_validator("method")
    @classmethod
    def _registered_method(cls, name: str) -> str:
        # a plain ValueError lets pydantic report the full path (e.g. finetune.method) when nested
        if name not in method_names():
            raise ValueError(f"unknown fine-tune method {name!r}; valid: {', '.join(method_names())}")
        return name

    @field_validator("method_config", mode="before")
    @classmethod
    def _typed_method_config(cls, value: Any, info: ValidationInfo) -> Any:
        # Normalising to the method's full config makes spec_hash cover the method's defaults
        # and reports a bad key as method_config.<key> before anything loads.
        if "method" not in info.data:  # the method itself was invalid and is reported already
            return value
        config = get_method(info.data["method"]).parse_config_strict(value)
        return config.model_dump(mode="json")

    def plugin(self) -> MethodPlugin:
        return get_method(self.method)

    def typed_method_config(self) -> Spec:
        return self.plugin().parse_config(self.method_config)
