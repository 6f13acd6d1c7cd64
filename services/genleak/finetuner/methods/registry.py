"""The fine-tune method registry: each method file calls `register_method` once.

A method turns a base model into a trainable one and knows how to export it: a peft
adapter folder (adapter_model.safetensors + adapter_config.json) and a merged plain model.
Registering needs no torch; heavy imports happen inside the builders.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from genleak.core.registry import Registry
from genleak.core.specs import Spec, parse_spec

if TYPE_CHECKING:
    import torch


class FineTuneMethod(Protocol):
    """What the training loop needs from a method."""

    has_adapter: bool
    """True if `save_adapter` writes a peft adapter; False for full fine-tuning."""

    def wrap(self, model: torch.nn.Module, scratch_dir: Path) -> torch.nn.Module:
        """Return the model to train (its trainable parameters are what the optimizer updates)."""

    def save_adapter(self, model: torch.nn.Module, dest: Path) -> None:
        """Write the adapter in peft's layout so `PeftModel.from_pretrained(original_base, dest)` works."""

    def merged_model(self, model: torch.nn.Module) -> torch.nn.Module:
        """A plain transformers model with the update folded in; must not disturb `model`."""


MethodBuilder = Callable[[Any], FineTuneMethod]


@dataclass(frozen=True)
class MethodPlugin:
    name: str
    config_cls: type[Spec]
    builder: MethodBuilder

    def parse_config(self, data: Mapping[str, Any] | Spec | None, where: str = "method_config") -> Spec:
        if isinstance(data, self.config_cls):
            return data
        if isinstance(data, Spec):
            data = data.model_dump()
        return parse_spec(self.config_cls, dict(data or {}), where=where)

    def parse_config_strict(self, data: Any) -> Spec:
        """Validate with pydantic's own errors, so an enclosing spec reports the nested field path."""
        if isinstance(data, Spec):
            data = data.model_dump()
        return self.config_cls.model_validate(data if data is not None else {})

    def build(self, config: Mapping[str, Any] | Spec | None) -> FineTuneMethod:
        return self.builder(self.parse_config(config))


METHODS: Registry[MethodPlugin] = Registry("fine-tune method", field="method")


def register_method(name: str, config_cls: type[Spec], builder: MethodBuilder) -> None:
    METHODS.register(name, MethodPlugin(name, config_cls, builder))


def method_names() -> list[str]:
    return METHODS.names()


def get_method(name: str, where: str = "method") -> MethodPlugin:
    return METHODS.get(name, field=where)
