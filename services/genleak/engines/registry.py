"""Registry of generation engines: one `register_engine` line per engine module."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from genleak.core.registry import Registry
from genleak.engines.base import EngineConfig, GenerationEngine

log = logging.getLogger(__name__)

EngineFactory = Callable[[Path, EngineConfig], GenerationEngine]

ENGINES: Registry[EngineFactory] = Registry("engine", field="engine.name")


def register_engine(name: str, factory: EngineFactory) -> None:
    """Make `factory` available as `EngineConfig(name=name)`; a name already taken is refused."""
    ENGINES.register(name, factory)


def engine_names() -> list[str]:
    return ENGINES.names()


def create_engine(model_dir: Path, config: EngineConfig) -> GenerationEngine:
    """Load the model in `model_dir` with the engine named by `config.name`."""
    factory = ENGINES.get(config.name)
    log.info("loading engine %s for %s", config.name, model_dir)
    return factory(Path(model_dir), config)
