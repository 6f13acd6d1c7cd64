"""The key-level storage protocol every backend implements, plus key hygiene shared by backends.

Keys are relative POSIX paths ("artifacts/gen/abc/MANIFEST.json"). Backends know nothing
about manifests or hashes: that is ArtifactStore's job, so a new backend stays small.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Protocol, runtime_checkable

from genleak.core.errors import InvalidSpec, ResourceExhausted, disk_full_reason

# Partial writes carry this prefix so listings never show them as objects.
TEMP_PREFIX = ".genleak-tmp-"


@runtime_checkable
class ObjectStore(Protocol):
    def put_file(self, key: str, src: Path) -> None: ...

    def get_file(self, key: str, dest: Path) -> None:
        """Write the object to `dest`; raise ArtifactNotFound (naming the URI) when missing."""
        ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def get_bytes(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> list[str]:
        """All keys under `prefix` (recursive), sorted."""
        ...

    def uri(self, key: str) -> str: ...


@runtime_checkable
class LocalObjectStore(Protocol):
    """Optional capability: objects already are local files, so readers can skip the download."""

    def local_path(self, key: str) -> Path: ...


def normalize_key(key: str) -> str:
    """Return `key` as a clean relative POSIX path; InvalidSpec if it could escape the store root."""
    if not key or "\\" in key or "\x00" in key:
        raise InvalidSpec(f"invalid object key {key!r}", field="key")
    path = PurePosixPath(key)
    if path.is_absolute() or not path.parts or ".." in path.parts:
        raise InvalidSpec(f"object key {key!r} must be a relative path without '..'", field="key")
    return path.as_posix()


def join_key(*parts: str) -> str:
    """Join key segments, ignoring empty ones (an empty prefix means the store root)."""
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


@contextmanager
def disk_full_is_resource_exhausted(action: str) -> Iterator[None]:
    """Writing local files: a full disk (or quota, or file-size limit) becomes ResourceExhausted naming
    `action`, instead of an OSError that would surface as INTERNAL. Callers clean up their temp files."""
    try:
        yield
    except OSError as exc:
        reason = disk_full_reason(exc)
        if reason is None:
            raise
        raise ResourceExhausted(f"{action} failed: {reason} ({errno.errorcode[exc.errno]})") from exc
