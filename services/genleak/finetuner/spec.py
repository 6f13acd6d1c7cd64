"""FineTuneSpec: method + its typed hyper-parameters + training + data format. Imports no torch."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from genleak.core.specs import Spec
from genleak.finetuner.config import DataFormat, TrainConfig
from genleak.finetuner.methods import get_method
from genleak.finetuner.methods.registry import MethodPlugin


class FineTuneSpec(Spec):
    method: str = Field("lora", description="Registered fine-tune method: lora | dora | pissa | full (paper: lora)")
    method_config: dict[str, Any] = Field(
        default_factory=dict,
        description="The method's hyper-parameters; validated by its config class, with every default filled in",
    )
    train: TrainConfig = Field(default_factory=TrainConfig, description="Optimisation settings")
    data: DataFormat = Field(default_factory=DataFormat, description="Which record fields make the training text")
    trust_remote_code: bool = Field(False, description="Allow model code shipped with the checkpoint to run")

    @model_validator(mode="before")
    @classmethod
    def _typed_method_config(cls, data: Any) -> Any:
        # Normalising to the method's full config makes spec_hash cover the method's defaults
        # and turns a bad key into InvalidSpec("method_config.<key>") before anything loads.
        if not isinstance(data, dict) or not isinstance(data.get("method", "lora"), str):
            return data
        plugin = get_method(data.get("method", "lora"))
        config = plugin.parse_config(data.get("method_config"))
        return {**data, "method_config": config.model_dump(mode="json")}

    def plugin(self) -> MethodPlugin:
        return get_method(self.method)

    def typed_method_config(self) -> Spec:
        return self.plugin().parse_config(self.method_config)
