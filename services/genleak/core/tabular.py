"""Columnar dataset files -> records: Parquet, Arrow IPC (stream or file format) and the folders
that Hugging Face `datasets` writes with `save_to_disk` (arrow shards + dataset_info.json + state.json).

The paper ships its generated data as `data/original_data.arrow`: one `save_to_disk` shard renamed,
i.e. a bare Arrow IPC stream. pyarrow is imported lazily; without it these formats fail with a clear
InvalidSpec, and JSON/JSONL imports still work.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import re
from pathlib import Path
from typing import Any

from genleak.core.errors import InvalidSpec

TABULAR_SUFFIXES = (".parquet", ".arrow")
HF_MARKERS = ("state.json", "dataset_info.json", "dataset_dict.json")
_PANDAS_INDEX = re.compile(r"^__index_level_\d+__$")


def is_hf_dataset_dir(path: Path) -> bool:
    """A `save_to_disk` folder (Dataset or DatasetDict)."""
    try:
        return path.is_dir() and any((path / marker).is_file() for marker in HF_MARKERS)
    except (OSError, ValueError):
        return False


def data_files(path: Path, where: str = "dataset") -> list[Path]:
    """The files whose bytes are the dataset, in row order: the file itself, or a folder's arrow shards."""
    if not path.is_dir():
        return [path]
    folder = _dataset_folder(path, where)
    state_path = folder / "state.json"
    if state_path.is_file():
        state = _read_json(state_path, where)
        if state.get("_indices_data_files"):
            raise InvalidSpec(f"{folder} holds an indices mapping (saved by an old `datasets`); "
                              f"re-save it with dataset.flatten_indices().save_to_disk(...)", field=where)
        names = [entry.get("filename") if isinstance(entry, dict) else None for entry in state.get("_data_files") or []]
        if not names or not all(isinstance(n, str) and n and Path(n).name == n for n in names):
            raise InvalidSpec(f"{state_path} lists no valid _data_files", field=where)
        files = [folder / name for name in names]
    else:
        files = sorted(folder.glob("*.arrow"))
    missing = [f.name for f in files if not f.is_file()]
    if missing or not files:
        raise InvalidSpec(f"{folder} is missing its arrow data files ({', '.join(missing) or 'none found'})",
                          field=where)
    return files


def read_tabular_records(path: Path, where: str = "dataset") -> list[dict[str, Any]]:
    """Records of a .parquet file, an .arrow file or a save_to_disk folder, as JSON-ready dicts."""
    records: list[dict[str, Any]] = []
    for file in data_files(path, where):
        table = _read_parquet(file, where) if file.suffix == ".parquet" else _read_arrow(file, where)
        table = table.drop_columns([c for c in table.column_names if _PANDAS_INDEX.match(c)])
        records.extend(_jsonable(row, where) for row in table.to_pylist())
    return records


def _dataset_folder(path: Path, where: str) -> Path:
    """A DatasetDict folder (dataset_dict.json) resolves to its only split; with several, the user names one."""
    dict_path = path / "dataset_dict.json"
    if not dict_path.is_file():
        return path
    splits = _read_json(dict_path, where).get("splits")
    if not isinstance(splits, list) or not splits or not all(isinstance(s, str) and Path(s).name == s for s in splits):
        raise InvalidSpec(f"{dict_path} lists no valid splits", field=where)
    if len(splits) > 1:
        raise InvalidSpec(f"{path} is a DatasetDict with splits {', '.join(splits)}: give one split's folder, "
                          f"e.g. {path / splits[0]}", field=where)
    return path / splits[0]


def _read_json(path: Path, where: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidSpec(f"{path} is not readable JSON ({exc})", field=where) from None
    if not isinstance(data, dict):
        raise InvalidSpec(f"{path} must hold a JSON object", field=where)
    return data


def _pyarrow(where: str):
    try:
        import pyarrow
        import pyarrow.ipc  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise InvalidSpec("Parquet/Arrow datasets need pyarrow (pip install pyarrow)", field=where) from None
    return pyarrow


def _read_arrow(path: Path, where: str):
    """Arrow IPC stream (what save_to_disk writes) or IPC file format (`.arrow`/Feather v2)."""
    pa = _pyarrow(where)
    errors = []
    for opener in (pa.ipc.open_stream, pa.ipc.open_file):
        try:
            with pa.OSFile(str(path), "rb") as source:
                return opener(source).read_all()
        except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
            errors.append(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    raise InvalidSpec(f"{path} is not an Arrow IPC stream or file ({errors[-1]})", field=where)


def _read_parquet(path: Path, where: str):
    pa = _pyarrow(where)
    try:
        return pa.parquet.read_table(str(path))
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidSpec(f"{path} is not a readable Parquet file ({first})", field=where) from None


def _jsonable(value: Any, where: str) -> Any:
    """Arrow values JSON cannot hold as they are: dates/times -> ISO strings, decimals -> strings,
    binary -> UTF-8 text (or base64 when it is not text), map entries -> [key, value] lists."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v, where) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, where) for v in value]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(raw).decode("ascii")
    raise InvalidSpec(f"a value of type {type(value).__name__} cannot be stored as JSON", field=where)
