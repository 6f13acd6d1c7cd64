"""Resolve a model reference (artifact URI, `hf://org/name[@rev]`, local HF folder, or a `scheme:name`
reference such as the zoo's `zoo:<name>`) to a verified local folder.

`scheme:name` references belong to packages above core: each registers a `ModelScheme` in
`MODEL_SCHEMES` when it is imported (the zoo package registers "zoo"), so core never imports them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from genleak.core.errors import ModelNotFound, UnsafeArtifact
from genleak.core.hub import fetch_hf_model, is_hf_uri, parse_hf_uri
from genleak.core.pickles import PICKLE_SUFFIXES
from genleak.core.progress import NULL_REPORTER, Reporter
from genleak.core.registry import Registry
from genleak.core.store import ArtifactRef, ArtifactStore

if TYPE_CHECKING:
    from genleak.core.specs import ModelSpec

# (store, reference, where, reporter) -> the model folder on local disk (fetched and hash-verified).
SchemeResolve = Callable[[ArtifactStore, str, str, Reporter], Path]
# (store, reference, where) -> None: the submission-time check; downloads and converts nothing.
SchemeRequire = Callable[[ArtifactStore, str, str], None]


@dataclass(frozen=True)
class ModelScheme:
    """How references written `<scheme>:<name>` become model folders."""

    resolve: SchemeResolve
    require: SchemeRequire


MODEL_SCHEMES: Registry[ModelScheme] = Registry("model reference scheme", field="model.uri")

# `scheme:rest`, but not `scheme://` (store and hf:// URIs, handled below) and not a path ("a/b:c").
_SCHEME_REFERENCE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(?!//)")


def register_model_scheme(scheme: str, resolver: ModelScheme) -> None:
    """Resolve `<scheme>:...` model references with `resolver` from now on (a taken scheme is refused)."""
    MODEL_SCHEMES.register(scheme, resolver)


def resolve_model_dir(store: ArtifactStore, uri: str, where: str = "model.uri",
                      reporter: Reporter | None = None, trust_remote_code: bool | None = None,
                      allow_pickle: bool = False) -> Path:
    """Artifacts are fetched and hash-verified; plain local folders are used in place; a `scheme:name`
    reference goes to its registered `ModelScheme` (`zoo:<name>` is converted into the store on first
    use, then fetched like any artifact).
    With `trust_remote_code` given (False or True), a folder shipping its own model code is refused
    up front unless it is True (see `check_custom_code`); None leaves that to the loader.
    Pickle-only weights are refused unless `allow_pickle`: then they are converted once to
    safetensors with torch's weights-only unpickler (genleak.core.pickles), and every loader
    downstream still reads safetensors only."""
    path = _resolve_model_dir(store, uri, where, reporter, allow_pickle)
    if allow_pickle and not any(path.glob("*.safetensors")):
        from genleak.core.pickles import convert_pickle_checkpoint

        path = convert_pickle_checkpoint(path, store.settings.cache_dir / "from-pickle", where)
    if trust_remote_code is not None:
        check_custom_code(path, trust_remote_code, where)
    return path


def resolve_model(store: ArtifactStore, model: "ModelSpec", where: str = "model.uri",
                  reporter: Reporter | None = None) -> Path:
    """`resolve_model_dir` with a request's model reference and its safety switches."""
    return resolve_model_dir(store, model.uri, where, reporter, trust_remote_code=model.trust_remote_code,
                             allow_pickle=model.allow_pickle)


def _resolve_model_dir(store: ArtifactStore, uri: str, where: str, reporter: Reporter | None,
                       allow_pickle: bool = False) -> Path:
    if not uri:
        raise ModelNotFound(f"{where}: no model given")
    scheme = _model_scheme(uri, where)
    if scheme is not None:
        return check_model_dir(scheme.resolve(store, uri, where, reporter or NULL_REPORTER), where)
    if is_hf_uri(uri):
        return check_model_dir(fetch_hf_model(uri, store.settings.cache_dir, where), where)
    if "://" in uri:
        if store.lookup(uri) is None:
            if uri.startswith("file://") and _is_dir(Path(uri[len("file://"):])):
                return check_model_dir(Path(uri[len("file://"):]), where, allow_pickle)
            raise ModelNotFound(f"{where}: no model artifact at {uri}")
        return check_model_dir(store.fetch(uri), where, allow_pickle)
    return check_model_dir(Path(uri), where, allow_pickle)


def check_model_dir(path: Path, where: str = "model.uri", allow_pickle: bool = False) -> Path:
    """Refuse missing folders and pickle-only checkpoints before any library loads them:
    pickle weights can execute code on load, so only safetensors are accepted (pickle-only
    folders pass with `allow_pickle`, for conversion by the caller)."""
    path = Path(path)
    if not _is_dir(path):
        raise ModelNotFound(f"{where}: model folder not found: {path}")
    if not (path / "config.json").is_file():
        raise ModelNotFound(f"{where}: {path} is not a model folder (no config.json)")
    if not any(path.glob("*.safetensors")):
        pickles = [p.name for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES]
        if pickles and allow_pickle:
            return path
        if pickles:
            raise UnsafeArtifact(f"{where}: {path} holds only pickle weights ({', '.join(pickles)}); safetensors "
                                 "required (allow_pickle converts them with torch's weights-only loader)")
        raise ModelNotFound(f"{where}: {path} has no safetensors weights")
    return path


def check_custom_code(path: Path, trust_remote_code: bool, where: str = "model.uri") -> None:
    """A folder whose config names its own Python classes (`auto_map`) would run that code when
    loaded: refuse it with a clear error unless the request opted in (transformers would refuse too,
    but as an opaque ValueError deep inside a job)."""
    if trust_remote_code:
        return
    for name in ("config.json", "tokenizer_config.json"):
        try:
            data = json.loads((Path(path) / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # missing or unreadable: the loader reports it
        if isinstance(data, dict) and data.get("auto_map"):
            raise UnsafeArtifact(f"{where}: {path} ships its own model code (auto_map in {name}); "
                                 f"set trust_remote_code to run it")


def require_model(store: ArtifactStore, uri: str, where: str = "model.uri", allow_pickle: bool = False) -> None:
    """Cheap existence check at submission time, so a bad request fails before a job starts.
    A `scheme:name` reference is checked by its scheme (a `zoo:` model must be known and in the store or
    installable; it is not converted here)."""
    scheme = _model_scheme(uri, where)
    if scheme is not None:
        scheme.require(store, uri, where)
        return
    if is_hf_uri(uri):
        parse_hf_uri(uri, where)  # fetched when the job runs: a download does not belong in a submit call
        return
    if "://" in uri and store.lookup(uri) is not None:
        return
    local = Path(uri[len("file://"):]) if uri.startswith("file://") else Path(uri)
    if "://" in uri and not uri.startswith("file://"):
        raise ModelNotFound(f"{where}: no model artifact at {uri}")
    if not _is_dir(local):
        raise ModelNotFound(f"{where}: no model at {uri}")
    check_model_dir(local, where, allow_pickle)


def _model_scheme(uri: str, where: str) -> ModelScheme | None:
    """The registered scheme of a `scheme:name` reference; None for URIs and local folders. An unknown
    scheme is an InvalidSpec listing the registered ones, unless a local folder has that name."""
    match = _SCHEME_REFERENCE.match(uri)
    if match is None:
        return None
    name = match.group(1)
    if name not in MODEL_SCHEMES and _is_dir(Path(uri)):
        return None
    return MODEL_SCHEMES.get(name, field=where)


def _is_dir(path: Path) -> bool:
    """Path.is_dir() without the OSErrors it lets through (a name too long for the OS, a NUL byte)."""
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def publish_model_folder(store: ArtifactStore, folder: Path, meta: dict | None = None) -> ArtifactRef:
    """Publish a local model folder as a model artifact keyed by its content (names and bytes of every
    file), so the same folder published twice, from anywhere, is one artifact."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return store.publish(folder, store.uri_for("models", "imported", digest.hexdigest()[:32]), kind="model",
                         meta=meta or {})
