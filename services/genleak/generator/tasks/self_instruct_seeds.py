"""Seed tasks of the self-instruct loop: reading and validating them.

The canonical form is self-instruct's / the paper's `data/seedTasks.json`:
`{"instruction": str, "examples": [{"input": str, "output": str}, ...]}`. Wang et al.'s own seed file
calls the list `instances`, and Alpaca-style data is flat (`{instruction, input, output}`); both are
accepted and normalised, so any of the three formats can be uploaded as the seed dataset.

A task may carry `is_classification` (Wang et al.'s seed_tasks.jsonl does): a task whose answer is one
of a finite set of labels. The loop trusts it and shows such tasks as demonstrations of its
classification question and of output-first instances; absent, the task is simply unlabelled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genleak.core.errors import InvalidSpec

NO_INPUT = "<noinput>"


@dataclass(frozen=True)
class SeedExample:
    input: str  # "" = the task needs no input (shown as <noinput> in prompts)
    output: str


@dataclass(frozen=True)
class SeedTask:
    instruction: str
    examples: tuple[SeedExample, ...]
    is_classification: bool | None = None  # None: the record does not say

    def record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"instruction": self.instruction,
                                  "examples": [{"input": e.input, "output": e.output} for e in self.examples]}
        if self.is_classification is not None:
            record["is_classification"] = self.is_classification
        return record


def load_seed_tasks(path: Path | str) -> list[SeedTask]:
    """Read seed tasks from a JSON list or a JSONL file and validate them."""
    path = Path(path)
    if not path.is_file():
        raise InvalidSpec(f"no seed task file at {path}", field="seed_tasks")
    text = path.read_text(encoding="utf-8")
    return normalize_seed_tasks(_parse_json_or_jsonl(text, path), where="seed_tasks")


def normalize_seed_tasks(records: list[Any], where: str = "records") -> list[SeedTask]:
    """Validate records in any accepted format; errors name the record index and field."""
    if not records:
        raise InvalidSpec("no seed tasks", field=where)
    return [_seed_task(record, f"{where}[{i}]") for i, record in enumerate(records)]


def normalize_input(text: str) -> str:
    """'<noinput>' and blank inputs both mean the task takes no input."""
    text = text.strip()
    return "" if text.lower() == NO_INPUT else text


def _parse_json_or_jsonl(text: str, path: Path) -> list[Any]:
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidSpec(f"{path} is not valid JSON ({exc.msg}, line {exc.lineno})", field="seed_tasks") from None
        return data
    records = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise InvalidSpec(f"{path} line {lineno} is not valid JSON ({exc.msg})", field="seed_tasks") from None
    return records


def _seed_task(record: Any, where: str) -> SeedTask:
    if not isinstance(record, dict):
        raise InvalidSpec("seed task must be a JSON object", field=where)
    instruction = _string(record, "instruction", where)
    if not instruction.strip():
        raise InvalidSpec("instruction is empty", field=f"{where}.instruction")
    key = "examples" if "examples" in record else "instances" if "instances" in record else None
    if key is None:  # flat Alpaca record
        examples = [_example(record, where)]
    else:
        raw = record[key]
        if not isinstance(raw, list) or not raw:
            raise InvalidSpec(f"{key} must be a non-empty list", field=f"{where}.{key}")
        examples = [_example(ex, f"{where}.{key}[{j}]") for j, ex in enumerate(raw)]
    is_classification = record.get("is_classification")
    if is_classification is not None and not isinstance(is_classification, bool):
        raise InvalidSpec("is_classification must be true or false", field=f"{where}.is_classification")
    return SeedTask(instruction=" ".join(instruction.split()), examples=tuple(examples),
                    is_classification=is_classification)


def _example(record: Any, where: str) -> SeedExample:
    if not isinstance(record, dict):
        raise InvalidSpec("example must be a JSON object with input and output", field=where)
    raw_input = record.get("input", "")
    if not isinstance(raw_input, str):
        raise InvalidSpec("input must be a string", field=f"{where}.input")
    output = _string(record, "output", where)
    if not output.strip():
        raise InvalidSpec("output is empty", field=f"{where}.output")
    return SeedExample(input=normalize_input(raw_input), output=output.strip())


def _string(record: dict, key: str, where: str) -> str:
    value = record.get(key)
    if not isinstance(value, str):
        raise InvalidSpec("missing or not a string", field=f"{where}.{key}")
    return value
