"""Registry of generation engines: one `register_engine` line per engine module."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from genleak.core.errors import InvalidSpec
from genleak.engines.base import EngineConfig, GenerationEngine

log = logging.getLogger(__name__)

EngineFactory = Callable[[Path, EngineConfig], GenerationEngine]

_FACTORIES: dict[str, EngineFactory] = {}
_LOCK = threading.Lock()


def register_engine(name: str, factory: EngineFactory) -> None:
    """Make `factory` available as `EngineConfig(name=name)`. Re-registering replaces it."""
    with _LOCK:
        _FACTORIES[name] = factory


def engine_names() -> list[str]:
    with _LOCK:
        return sorted(_FACTORIES)


def create_engine(model_dir: Path, config: EngineConfig) -> GenerationEngine:
    """Load the model in `model_dir` with the engine named by `config.name`."""
    with _LOCK:
        factory = _FACTORIES.get(config.name)
    if factory is None:
        raise InvalidSpec(
            f"unknown engine {config.name!r}; valid engines: {', '.join(engine_names())}", field="engine.name"
        )
    log.info("loading engine %s for %s", config.name, model_dir)
    return factory(Path(model_dir), config)
