"""FineTuneSpec: the fine-tuning contract's params, checked against the method registry. Imports no torch."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from genleak.contracts.finetune import FineTuneParams
from genleak.core.specs import Spec
from genleak.finetuner.methods import get_method, method_names
from genleak.finetuner.methods.registry import MethodPlugin


class FineTuneSpec(FineTuneParams):
    """FineTuneParams with the method known and its config complete, plus how the model may be loaded."""

    model_config = ConfigDict(**FineTuneParams.model_config, validate_default=True)  # fill method_config defaults

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
