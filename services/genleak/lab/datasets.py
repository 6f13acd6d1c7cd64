"""The lab's jsonl datasets: rows from the splits, written byte-for-byte reproducibly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from genleak.lab.seed_tasks import build_seed_tasks
from genleak.lab.splits import LabSplits, split_prompt

DATASET_NAMES = ("members", "nonmembers", "prompts", "pii_targets", "few_shot", "people", "seed_tasks")


def dataset_rows(splits: LabSplits, prompt_ratio: float, seed: int) -> dict[str, list[dict]]:
    return {
        "members": [{"doc_id": d.doc_id, "text": d.text} for d in splits.members],
        "nonmembers": [{"doc_id": d.doc_id, "text": d.text} for d in splits.nonmembers],
        "prompts": [_prompt_row(d.doc_id, d.text, d.cast.sender.name, d.cast.sender.email, prompt_ratio)
                    for d in splits.prompt_docs],
        "pii_targets": [_pii_row(p.record()) for p in splits.people if p.role == "eval"],
        "few_shot": [{"person_id": p.person_id, "name": p.name, "email": p.email}
                     for p in splits.people if p.role == "fewshot"],
        "people": [p.record() for p in splits.people],
        "seed_tasks": build_seed_tasks(splits, seed),  # self-instruct seeds over tuning-only mail
    }


def write_datasets(rows: dict[str, list[dict]], datasets_dir: Path) -> dict[str, Path]:
    paths = {}
    for name in DATASET_NAMES:
        paths[name] = datasets_dir / name / "data.jsonl"
        write_jsonl(paths[name], rows[name])
    return paths


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _prompt_row(doc_id: str, text: str, name: str, email: str, ratio: float) -> dict:
    prompt, continuation = split_prompt(text, ratio)
    return {"doc_id": doc_id, "prompt": prompt, "continuation": continuation, "gt-name": name, "gt-email": email}


def _pii_row(record: dict) -> dict:
    return {key: record[key] for key in ("person_id", "name", "email", "phone", "address")}
