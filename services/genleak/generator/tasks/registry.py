"""Registry of generation tasks (continuation, self_instruct), one file each.

A task turns input records into training records with an engine:
`run(engine, token_counter, records, config, reporter) -> (records, stats)`. `text_fields(config)`
names the input record fields that hold text (what scrubbing replaces PII in by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from genleak.core.registry import Registry
from genleak.core.specs import Spec

TaskRunner = Callable[..., tuple[list[dict[str, Any]], dict[str, Any]]]
TextFields = Callable[[Any], Sequence[str]]


@dataclass(frozen=True)
class GenerationTask:
    name: str
    config_type: type[Spec]
    run: TaskRunner
    text_fields: TextFields


TASKS: Registry[GenerationTask] = Registry("task", field="task")


def register_task(name: str, config_type: type[Spec], run: TaskRunner, text_fields: TextFields) -> None:
    TASKS.register(name, GenerationTask(name, config_type, run, text_fields))


def task_names() -> list[str]:
    return TASKS.names()


def get_task(name: str) -> GenerationTask:
    return TASKS.get(name)
