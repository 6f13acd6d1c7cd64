"""What `genleak run` and `genleak validate` check on this machine before anything starts: the spec file
itself, and every local file and model folder the spec names (one line naming the key, the path and
what to do, instead of a traceback from inside a job minutes later)."""

from __future__ import annotations

from pathlib import Path

from genleak.controller.references import Reference, named_references
from genleak.controller.spec import ExperimentSpec
from genleak.core.dataset_import import DATA_SUFFIXES, is_local_data_file
from genleak.core.errors import InvalidSpec

DATASET_FIX = "a dataset file (.jsonl, .json, .parquet, .arrow or a save_to_disk folder), a store URI " \
              "(`genleak data import FILE` prints one) or lab:<name>"
MODEL_FIX = "a Hugging Face model folder (config.json and *.safetensors), hf://org/name, zoo:<name>, a store URI " \
            "(`genleak models import FOLDER` prints one) or lab:<name>"


def read_spec_file(path: str) -> str:
    """The spec's text; a missing, unreadable or binary file is one clear error, not a traceback."""
    file = Path(path)
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidSpec(f"no spec file at {path}: give the path of an experiment spec YAML "
                          "(e.g. examples/tiny.yaml)") from None
    except IsADirectoryError:
        raise InvalidSpec(f"{path} is a folder, not a spec file: give the path of an experiment spec YAML") from None
    except PermissionError:
        raise InvalidSpec(f"cannot read the spec file {path}: permission denied") from None
    except UnicodeDecodeError:
        raise InvalidSpec(f"{path} is not a text (UTF-8) file: give the path of an experiment spec YAML") from None


def check_local_inputs(spec: ExperimentSpec, spec_dir: Path, remote: bool = False) -> None:
    """Every path the spec names exists and is what its key needs. Datasets are looked up as `genleak
    run` uploads them (the current folder, then the spec's folder); model folders as the services open
    them (the current folder). `file://` URIs are this machine's only without --remote."""
    for ref in named_references(spec):
        if ref.is_path:
            _check_path(ref, spec_dir)
        elif ref.value.startswith("file://") and not remote:
            _check_file_uri(ref)


def _check_path(ref: Reference, spec_dir: Path) -> None:
    if ref.kind == "dataset":
        _check_dataset_path(ref, spec_dir)
    else:
        _check_model_folder(ref, Path(ref.value).expanduser(), spec_dir)


def _check_dataset_path(ref: Reference, spec_dir: Path) -> None:
    candidates = _candidates(ref.value, spec_dir)
    if any(is_local_data_file(str(c)) for c in candidates):
        return
    existing = [c for c in candidates if c.exists()]
    if existing:
        raise InvalidSpec(f"{existing[0]} is not a dataset genleak reads (files ending in {', '.join(DATA_SUFFIXES)}, "
                          f"or a save_to_disk folder): set {ref.key} to {DATASET_FIX}", field=ref.key)
    looked = " and ".join(str(c.resolve()) for c in candidates)
    raise InvalidSpec(f"{ref.value} not found (looked for {looked}): put the file there, or set {ref.key} to "
                      f"{DATASET_FIX}", field=ref.key)


def _candidates(value: str, spec_dir: Path) -> list[Path]:
    path = Path(value).expanduser()
    if path.is_absolute():
        return [path]
    beside_spec = spec_dir / path
    return [path, beside_spec] if beside_spec.resolve() != path.resolve() else [path]


def _check_model_folder(ref: Reference, folder: Path, spec_dir: Path) -> None:
    if (folder / "config.json").is_file():
        return
    if folder.is_dir():
        raise InvalidSpec(f"{folder} is not a model folder (no config.json): set {ref.key} to {MODEL_FIX}",
                          field=ref.key)
    hint = ""
    if not folder.is_absolute() and (spec_dir / folder / "config.json").is_file():
        hint = (f" (it is there relative to the spec's folder {spec_dir}, but model paths resolve against the folder "
                "genleak runs from: run from there or give an absolute path)")
    raise InvalidSpec(f"no model folder at {folder.resolve()}{hint}: download the model there, or set {ref.key} to "
                      f"{MODEL_FIX}", field=ref.key)


def _check_file_uri(ref: Reference) -> None:
    path = Path(ref.value[len("file://"):])
    if not path.exists():
        fix = DATASET_FIX if ref.kind == "dataset" else MODEL_FIX
        raise InvalidSpec(f"nothing at {ref.value} (no such artifact or folder on this machine): set {ref.key} to "
                          f"{fix}", field=ref.key)
