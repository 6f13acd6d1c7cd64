"""Dataset artifacts: a folder holding `data.jsonl` (one JSON record per line) + MANIFEST.json."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Iterable

from genleak.core.errors import InvalidSpec
from genleak.core.store import ArtifactRef, ArtifactStore

DATA_FILE = "data.jsonl"


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(path, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


# One record per line; a longer line is refused before it is held in memory whole.
MAX_LINE_BYTES = 64 * 1024 * 1024
UTF8_BOM = b"\xef\xbb\xbf"


def read_jsonl(path: Path, where: str = "dataset", max_line_bytes: int = MAX_LINE_BYTES) -> list[dict[str, Any]]:
    """Records of a UTF-8 JSONL file (a leading BOM is allowed). Anything else (bad JSON, another
    encoding, a line over `max_line_bytes`, nesting too deep to parse) is InvalidSpec naming the line."""
    records = []
    with open(path, "rb") as fh:
        lineno = 0
        while True:
            raw = fh.readline(max_line_bytes + 1)
            if not raw:
                break
            lineno += 1
            if len(raw) > max_line_bytes:
                raise InvalidSpec(f"line {lineno} is longer than {max_line_bytes} bytes", field=where)
            if lineno == 1:
                raw = raw.removeprefix(UTF8_BOM)
            record = _parse_line(raw, lineno, where)
            if record is not None:
                records.append(record)
    return records


def _parse_line(raw: bytes, lineno: int, where: str) -> dict[str, Any] | None:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidSpec(f"line {lineno} is not UTF-8 (byte {exc.start + 1}: {exc.reason})", field=where) from None
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidSpec(f"line {lineno} is not valid JSON ({exc.msg})", field=where) from None
    except RecursionError:
        raise InvalidSpec(f"line {lineno} is nested too deeply to parse", field=where) from None
    if not isinstance(record, dict):
        raise InvalidSpec(f"line {lineno} is not a JSON object", field=where)
    return record


def load_records(store: ArtifactStore, ref: ArtifactRef | str, where: str = "dataset") -> list[dict[str, Any]]:
    """Fetch (hash-verified) and read a dataset artifact."""
    expected = ref.sha256 if isinstance(ref, ArtifactRef) and ref.sha256 else None
    folder = store.fetch(ref.uri if isinstance(ref, ArtifactRef) else ref, expected_sha256=expected)
    path = folder / DATA_FILE
    if not path.exists():
        raise InvalidSpec(f"artifact has no {DATA_FILE}", field=where)
    return read_jsonl(path, where)


def require_fields(records: list[dict[str, Any]], fields: Iterable[str], where: str) -> None:
    for name in fields:
        missing = sum(1 for r in records if name not in r)
        if missing:
            raise InvalidSpec(f"{missing} of {len(records)} records lack the field {name!r}", field=where)


def publish_records(store: ArtifactStore, records: Iterable[dict[str, Any]], uri: str, meta: dict | None = None) -> ArtifactRef:
    with tempfile.TemporaryDirectory(prefix="genleak-ds-") as tmp:
        count = write_jsonl(Path(tmp) / DATA_FILE, records)
        return store.publish(Path(tmp), uri, kind="dataset", meta={"records": count, **(meta or {})})


def require_dataset(store: ArtifactStore, uri: str, where: str = "dataset.uri") -> None:
    """Cheap existence check at submission time (the manifest is the artifact's existence)."""
    from genleak.core.errors import ArtifactNotFound

    if store.lookup(uri) is None:
        raise ArtifactNotFound(f"{where}: no dataset artifact at {uri}")
