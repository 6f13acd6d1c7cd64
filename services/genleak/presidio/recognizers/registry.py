"""The registry of recognizers genleak adds to Presidio (Presidio's own are named by class).

A factory takes the language code and returns a Presidio `EntityRecognizer`; it imports
Presidio itself, so registering costs nothing until an analyzer is built. Adding a recognizer
is one module with a factory plus one `register_recognizer` line in this package's __init__.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from genleak.core.errors import InvalidSpec

RecognizerFactory = Callable[[str], Any]

_FACTORIES: dict[str, RecognizerFactory] = {}
_LOCK = threading.Lock()


def register_recognizer(name: str, factory: RecognizerFactory) -> None:
    with _LOCK:
        _FACTORIES[name] = factory


def recognizer_names() -> list[str]:
    with _LOCK:
        return sorted(_FACTORIES)


def create_recognizer(name: str, language: str, field: str = "analyzer.recognizers") -> Any:
    with _LOCK:
        factory = _FACTORIES.get(name)
    if factory is None:
        raise InvalidSpec(f"unknown genleak recognizer {name!r}; valid: {', '.join(recognizer_names())}", field=field)
    return factory(language)
