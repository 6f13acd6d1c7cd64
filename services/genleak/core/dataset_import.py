"""Local dataset files -> dataset artifacts, so users point specs at their own files.

Accepted: `.jsonl` (one object per line), `.json` (a list of objects), `.parquet`, `.arrow` (Arrow
IPC stream or file; the paper's `data/original_data.arrow`) and Hugging Face `save_to_disk` folders.
A MIMIR-style member file (`{"text": ...}`), self-instruct / Alpaca seed tasks or prompts: each
becomes an immutable dataset artifact keyed by the content's sha256, so importing the same bytes
twice is one artifact, and services only ever read verified artifacts.

The Enron file of Huang et al. 2022 / the paper (`prompt, continuation, gt-name, gt-email` per row)
is genleak's prompts format as it is; as the people to query (`data.pii_targets`) its `gt-name` /
`gt-email` become `{name, email, row}`, one per row as they are, repeats included (`import_enron_file`,
`view="pii_targets"`); `data.target_rows` picks the queried rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from genleak.core.datasets import publish_records, read_jsonl
from genleak.core.errors import InvalidSpec
from genleak.core.hashing import canonical_json, sha256_bytes, sha256_file
from genleak.core.store import ArtifactRef, ArtifactStore
from genleak.core.tabular import TABULAR_SUFFIXES, data_files, is_hf_dataset_dir, read_tabular_records

DATA_SUFFIXES = (".jsonl", ".json", *TABULAR_SUFFIXES)
ENRON_FIELDS = ("prompt", "continuation", "gt-name", "gt-email")
# How a file is read into a dataset: as it is, or as the people to query (gt-name/gt-email mapped).
View = Literal["records", "pii_targets"]


def is_local_data_file(ref: str) -> bool:
    """A local dataset: a file with a known suffix, or a save_to_disk folder."""
    if "://" in ref or ref.startswith(("lab:", "zoo:")):
        return False
    try:
        path = Path(ref).expanduser()
        return (ref.endswith(DATA_SUFFIXES) and path.is_file()) or is_hf_dataset_dir(path)
    except (OSError, ValueError, RuntimeError):  # a name the OS refuses; ~user with no such user
        return False


def import_dataset_file(store: ArtifactStore, path: str | Path, where: str = "dataset",
                        view: View = "records") -> ArtifactRef:
    """Publish the records of a local dataset file or folder. With view="pii_targets", records
    carrying the Enron `gt-name`/`gt-email` fields (and no `name`/`email`) become `{name, email}`."""
    path = _existing(path, where)
    key = content_key(path, where)
    if view == "pii_targets":
        mapped_uri = store.uri_for("inputs", key + "-pii_targets_by_row")  # one per row, repeats kept
        if (existing := store.lookup(mapped_uri)) is not None:
            return existing
    uri = store.uri_for("inputs", key)
    if view == "records" and (existing := store.lookup(uri)) is not None:
        return existing
    records = read_records(path, where)
    if view == "pii_targets" and _is_enron(records):
        return publish_records(store, enron_pii_targets(records, where), mapped_uri,
                               meta={"source_file": path.name, "converted": "enron gt-name/gt-email -> name/email"})
    if (existing := store.lookup(uri)) is not None:
        return existing
    return publish_records(store, records, uri, meta={"source_file": path.name})


def import_enron_file(store: ArtifactStore, path: str | Path, where: str = "dataset") -> dict[str, ArtifactRef]:
    """The paper's Enron file -> {"prompts": the rows as they are, "pii_targets": {name, email, row} per row}."""
    path = _existing(path, where)
    records = read_records(path, where)
    for name in ENRON_FIELDS:
        bad = sum(1 for r in records if not isinstance(r.get(name), str))
        if bad:
            raise InvalidSpec(f"{bad} of {len(records)} records lack a string {name!r} "
                              f"(an Enron file has {', '.join(ENRON_FIELDS)})", field=where)
    return {"prompts": import_dataset_file(store, path, where),
            "pii_targets": import_dataset_file(store, path, where, view="pii_targets")}


def enron_pii_targets(records: list[dict[str, Any]], where: str = "dataset") -> list[dict[str, Any]]:
    """{name, email, row} from gt-name/gt-email, one per row as they are: the official code queries rows
    0-999 of its Enron file with repeats included, so a person listed twice is queried twice."""
    people = []
    for i, record in enumerate(records):
        name, email = record.get("gt-name"), record.get("gt-email")
        if not isinstance(name, str) or not isinstance(email, str) or not name.strip() or not email.strip():
            raise InvalidSpec(f"record {i} needs non-empty string gt-name and gt-email", field=where)
        people.append({"name": name.strip(), "email": email.strip(), "row": i})
    return people


def content_key(path: Path, where: str = "dataset") -> str:
    """sha256 (first 32 hex digits) of a file's bytes; of a folder's data shards (names + hashes)."""
    if path.is_file():
        return sha256_file(path)[:32]
    shards = [[f.name, sha256_file(f)] for f in data_files(path, where)]
    return sha256_bytes(canonical_json({"hf_dataset_shards": shards}).encode())[:32]


def read_records(path: Path, where: str = "dataset") -> list[dict[str, Any]]:
    if path.is_dir() or path.suffix in TABULAR_SUFFIXES:
        records = read_tabular_records(path, where)
    elif path.suffix == ".jsonl":
        records = read_jsonl(path, where)
    else:
        records = _read_json_list(path, path.read_bytes(), where)
    if not records:
        raise InvalidSpec(f"{path} holds no records", field=where)
    return records


def _existing(path: str | Path, where: str) -> Path:
    path = Path(path).expanduser()
    if path.is_dir():
        if not is_hf_dataset_dir(path):
            raise InvalidSpec(f"{path} is a folder but not a save_to_disk dataset (no state.json, "
                              f"dataset_info.json or dataset_dict.json)", field=where)
        return path
    if not path.is_file():
        raise InvalidSpec(f"no such file: {path}", field=where)
    return path


def _is_enron(records: list[dict[str, Any]]) -> bool:
    first = records[0]
    return "gt-name" in first and "gt-email" in first and not ("name" in first and "email" in first)


def _read_json_list(path: Path, data: bytes, where: str) -> list[dict[str, Any]]:
    try:
        loaded = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InvalidSpec(f"{path} is not UTF-8 (byte {exc.start + 1}: {exc.reason})", field=where) from None
    except json.JSONDecodeError as exc:
        raise InvalidSpec(f"{path} is not valid JSON ({exc.msg})", field=where) from None
    except RecursionError:
        raise InvalidSpec(f"{path} is nested too deeply to parse", field=where) from None
    if not isinstance(loaded, list) or not all(isinstance(r, dict) for r in loaded):
        raise InvalidSpec(f"{path} must hold a JSON list of objects", field=where)
    return loaded
