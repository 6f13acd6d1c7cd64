"""Local JSON/JSONL files -> dataset artifacts, so users point specs at their own files.

A MIMIR-style member file (`{"text": ...}` per line), self-instruct seed tasks as a JSON list,
or prompts: each becomes an immutable dataset artifact keyed by the file's sha256, so importing
the same bytes twice is one artifact, and services only ever read verified artifacts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genleak.core.datasets import publish_records, read_jsonl
from genleak.core.errors import InvalidSpec
from genleak.core.hashing import sha256_bytes
from genleak.core.store import ArtifactRef, ArtifactStore

DATA_SUFFIXES = (".jsonl", ".json")


def is_local_data_file(ref: str) -> bool:
    return "://" not in ref and not ref.startswith(("lab:", "zoo:")) and ref.endswith(DATA_SUFFIXES) \
        and Path(ref).expanduser().is_file()


def import_dataset_file(store: ArtifactStore, path: str | Path, where: str = "dataset") -> ArtifactRef:
    """Publish the records of a .jsonl file (one object per line) or .json file (a list of objects)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InvalidSpec(f"no such file: {path}", field=where)
    data = path.read_bytes()
    uri = store.uri_for("inputs", sha256_bytes(data)[:32])
    existing = store.lookup(uri)
    if existing is not None:
        return existing
    records = _read_records(path, data, where)
    if not records:
        raise InvalidSpec(f"{path} holds no records", field=where)
    return publish_records(store, records, uri, meta={"source_file": path.name})


def _read_records(path: Path, data: bytes, where: str) -> list[dict[str, Any]]:
    if path.suffix == ".jsonl":
        return read_jsonl(path, where)
    try:
        loaded = json.loads(data)
    except json.JSONDecodeError as exc:
        raise InvalidSpec(f"{path} is not valid JSON ({exc.msg})", field=where) from None
    if not isinstance(loaded, list) or not all(isinstance(r, dict) for r in loaded):
        raise InvalidSpec(f"{path} must hold a JSON list of objects", field=where)
    return loaded
