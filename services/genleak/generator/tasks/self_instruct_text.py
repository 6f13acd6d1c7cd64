"""The generator-side text tools of self-instruct: token counting, chat template, context budget.

The task gets the generator's model folder (the service passes it) and loads its tokenizer; tests
may pass a token-counting function (plain prompts only) or a tokenizer object instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from genleak.core.errors import InvalidSpec
from genleak.generator.tasks.self_instruct_prompts import chat_renderer

TokenCounter = Callable[[str], int]
_CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length")


@dataclass(frozen=True)
class TextTools:
    count: TokenCounter
    render: Callable[[str], str]  # prompt content -> the string the engine gets
    chat: bool
    context: int | None  # the generator's context length, when known

    def prompt_budget(self, max_new_tokens: int, override: int | None) -> int | None:
        """Most prompt tokens allowed: the override, else context minus the completion's room.

        At least half the context always goes to the prompt, so a large max_new_tokens on a
        small model trims demonstrations instead of leaving no room for any prompt.
        """
        if override is not None:
            return override
        if self.context is None:
            return None
        return self.context - min(max_new_tokens, self.context // 2)

    def completion_room(self, max_new_tokens: int, longest_prompt: int) -> int:
        """Tokens a completion can have: engines stop at the context (hf: after the padded batch)."""
        if self.context is None:
            return max_new_tokens
        return max(1, min(max_new_tokens, self.context - longest_prompt))


def text_tools(source: Any, prompt_format: str, system_prompt: str | None) -> TextTools:
    """TextTools from a model folder (path), a tokenizer object, or a token-counting function."""
    tokenizer, context = None, None
    if isinstance(source, (str, Path)):
        tokenizer, context = _load_tokenizer(Path(source)), _context_length(Path(source))
    elif hasattr(source, "apply_chat_template") and hasattr(source, "encode"):
        tokenizer = source
    elif not callable(source):
        raise TypeError(f"expected a model folder, tokenizer or token counter, got {type(source).__name__}")
    has_template = tokenizer is not None and bool(getattr(tokenizer, "chat_template", None))
    chat = _use_chat(prompt_format, has_template)
    count = source if tokenizer is None else (lambda text: len(tokenizer.encode(text)))
    render = chat_renderer(tokenizer, system_prompt) if chat else (lambda text: text)
    return TextTools(count=count, render=render, chat=chat, context=context)


def _use_chat(prompt_format: str, has_template: bool) -> bool:
    if prompt_format == "chat" and not has_template:
        raise InvalidSpec("prompt_format 'chat' needs a generator tokenizer with a chat_template",
                          field="prompt_format")
    return prompt_format == "chat" or (prompt_format == "auto" and has_template)


def _load_tokenizer(model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(model_dir))


def _context_length(model_dir: Path) -> int | None:
    config_file = model_dir / "config.json"
    if not config_file.is_file():
        return None
    config = json.loads(config_file.read_text(encoding="utf-8"))
    for key in _CONTEXT_KEYS:
        if isinstance(config.get(key), int) and config[key] > 0:
            return config[key]
    return None
