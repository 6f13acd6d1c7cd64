"""Generation tasks. Importing the package registers the built-in tasks."""

from genleak.generator.tasks.registry import GenerationTask, get_task, register_task, task_names
from genleak.generator.tasks import continuation as _continuation  # noqa: F401  (registers "continuation")
from genleak.generator.tasks import self_instruct as _self_instruct  # noqa: F401  (registers "self_instruct")
from genleak.generator.tasks.continuation import ContinuationConfig, generate_continuations, tokenizer_len_fn

__all__ = [
    "ContinuationConfig",
    "GenerationTask",
    "generate_continuations",
    "get_task",
    "register_task",
    "task_names",
    "tokenizer_len_fn",
]
