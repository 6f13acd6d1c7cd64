"""The registry of recognizers genleak adds to Presidio (Presidio's own are named by class).

A factory takes the language code and returns a Presidio `EntityRecognizer`; it imports
Presidio itself, so registering costs nothing until an analyzer is built. Adding a recognizer
is one module with a factory plus one `register_recognizer` line in this package's __init__.
"""

from __future__ import annotations

from typing import Any, Callable

from genleak.core.registry import Registry

RecognizerFactory = Callable[[str], Any]

RECOGNIZERS: Registry[RecognizerFactory] = Registry("genleak recognizer", field="analyzer.recognizers")


def register_recognizer(name: str, factory: RecognizerFactory) -> None:
    RECOGNIZERS.register(name, factory)


def recognizer_names() -> list[str]:
    return RECOGNIZERS.names()


def create_recognizer(name: str, language: str, field: str = "analyzer.recognizers") -> Any:
    return RECOGNIZERS.get(name, field=field)(language)
