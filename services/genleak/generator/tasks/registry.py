"""Registry of generation tasks (continuation, self_instruct), one file each.

A task turns input records into training records with an engine:
`run(engine, token_counter, records, config, reporter) -> (records, stats)`. `text_fields(config)`
names the input record fields that hold text (what scrubbing replaces PII in by default).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from genleak.core.errors import InvalidSpec
from genleak.core.specs import Spec

TaskRunner = Callable[..., tuple[list[dict[str, Any]], dict[str, Any]]]
TextFields = Callable[[Any], Sequence[str]]


@dataclass(frozen=True)
class GenerationTask:
    name: str
    config_type: type[Spec]
    run: TaskRunner
    text_fields: TextFields


_TASKS: dict[str, GenerationTask] = {}
_LOCK = threading.Lock()


def register_task(name: str, config_type: type[Spec], run: TaskRunner, text_fields: TextFields) -> None:
    with _LOCK:
        _TASKS[name] = GenerationTask(name, config_type, run, text_fields)


def task_names() -> list[str]:
    with _LOCK:
        return sorted(_TASKS)


def get_task(name: str) -> GenerationTask:
    with _LOCK:
        task = _TASKS.get(name)
    if task is None:
        raise InvalidSpec(f"unknown task {name!r}; valid tasks: {', '.join(task_names())}", field="task")
    return task
