"""Immutable, content-hashed artifacts on top of an ObjectStore.

An artifact is a folder of files plus MANIFEST.json, uploaded last: readers treat a folder
without a manifest as absent, so a crashed publish is invisible. Every read verifies hashes.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from genleak.core.errors import ArtifactNotFound, IntegrityError, InvalidSpec, ResourceExhausted
from genleak.core.hashing import sha256_bytes, sha256_file
from genleak.core.settings import StoreSettings
from genleak.core.store.manifest import MANIFEST_NAME, Manifest, ManifestFile
from genleak.core.store.objects import (
    TEMP_PREFIX,
    LocalObjectStore,
    ObjectStore,
    disk_full_is_resource_exhausted,
    join_key,
    normalize_key,
)
from genleak.core.store.registry import open_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArtifactRef:
    uri: str
    sha256: str  # sha256 of the MANIFEST.json bytes
    kind: str


@dataclass(frozen=True)
class _Located:
    """An artifact URI resolved to its backend."""

    store: ObjectStore
    prefix: str

    def key(self, name: str) -> str:
        return join_key(self.prefix, name)

    @property
    def uri(self) -> str:
        return self.store.uri(self.prefix)


class ArtifactStore:
    def __init__(self, settings: StoreSettings):
        self.settings = settings
        self.root = settings.root

    def uri_for(self, *parts: str) -> str:
        """E.g. uri_for("artifacts", "generation", spec_hash) -> <root>/artifacts/generation/<hash>."""
        return self.root.rstrip("/") + "/" + normalize_key(join_key(*parts))

    # ---- writing

    def publish(self, src_dir: Path, uri: str, kind: str, meta: dict[str, Any] | None = None) -> ArtifactRef:
        src_dir = Path(src_dir)
        if not src_dir.is_dir():
            raise InvalidSpec(f"{src_dir} is not a directory", field="src_dir")
        return self._publish(_files_under(src_dir), uri, kind, meta)

    def publish_file(self, src: Path, uri: str, kind: str, meta: dict[str, Any] | None = None) -> ArtifactRef:
        src = Path(src)
        if not src.is_file():
            raise InvalidSpec(f"{src} is not a file", field="src")
        return self._publish({src.name: src}, uri, kind, meta)

    def _publish(self, files: dict[str, Path], uri: str, kind: str, meta: dict[str, Any] | None) -> ArtifactRef:
        if MANIFEST_NAME in files:
            raise InvalidSpec(f"{MANIFEST_NAME} is reserved and cannot be part of an artifact", field="src_dir")
        loc = self._locate(uri)
        entries = [_describe_file(rel, path) for rel, path in files.items()]
        self._check_size(loc, entries)
        existing = self._read_manifest(loc)
        if existing is not None:
            return self._keep_existing(loc, existing, kind, entries)

        manifest = Manifest.build(kind, entries, meta)  # before uploading: bad meta must not cost an upload
        raw = manifest.to_bytes()
        started = time.monotonic()
        for entry in entries:
            loc.store.put_file(loc.key(entry.path), files[entry.path])
        loc.store.put_bytes(loc.key(MANIFEST_NAME), raw)  # last: this is the commit point
        log.info("published %s artifact %s (%d files, %d bytes, %.2fs) sha256=%s",
                 kind, loc.uri, len(entries), manifest.total_size, time.monotonic() - started, sha256_bytes(raw))
        return ArtifactRef(uri=loc.uri, sha256=sha256_bytes(raw), kind=kind)

    def _check_size(self, loc: _Located, entries: list[ManifestFile]) -> None:
        """GENLEAK_MAX_ARTIFACT_BYTES: refused before anything is uploaded."""
        limit = self.settings.max_artifact_bytes
        total = sum(entry.size for entry in entries)
        if limit and total > limit:
            raise ResourceExhausted(f"artifact {loc.uri} is {total} bytes, over the store's limit of {limit} bytes "
                                    f"(GENLEAK_MAX_ARTIFACT_BYTES); nothing was written")

    def _keep_existing(self, loc: _Located, existing: tuple[Manifest, bytes], kind: str,
                       entries: list[ManifestFile]) -> ArtifactRef:
        """Artifacts are immutable: a second publish to the same URI returns the first one."""
        manifest, raw = existing
        same = manifest.kind == kind and set(manifest.files) == set(entries)
        if not same:
            log.warning("artifact %s already exists with different contents; keeping the existing one", loc.uri)
        else:
            log.debug("artifact %s already published; reusing it", loc.uri)
        return ArtifactRef(uri=loc.uri, sha256=sha256_bytes(raw), kind=manifest.kind)

    # ---- reading

    def lookup(self, uri: str) -> ArtifactRef | None:
        loc = self._locate(uri)
        existing = self._read_manifest(loc)
        if existing is None:
            return None
        manifest, raw = existing
        return ArtifactRef(uri=loc.uri, sha256=sha256_bytes(raw), kind=manifest.kind)

    def manifest(self, uri: str) -> Manifest:
        return self._require_manifest(self._locate(uri))[0]

    def fetch(self, ref_or_uri: ArtifactRef | str, expected_sha256: str | None = None) -> Path:
        """Return a local directory holding the artifact's files, all verified against the manifest."""
        uri, expected = _uri_and_expected_hashes(ref_or_uri, expected_sha256)
        loc = self._locate(uri)
        manifest, raw = self._require_manifest(loc)
        sha = sha256_bytes(raw)
        for want in expected:
            if sha != want:
                raise IntegrityError(f"artifact {loc.uri} has manifest sha256 {sha}, expected {want}")
        if isinstance(loc.store, LocalObjectStore):
            folder = loc.store.local_path(loc.key(MANIFEST_NAME)).parent
            _verify_folder(folder, manifest, loc.uri)
            return folder
        return self._fetch_into_cache(loc, manifest, raw, sha)

    def read_bytes(self, uri: str, name: str) -> bytes:
        """One small file of an artifact, verified, without downloading the rest."""
        loc = self._locate(uri)
        manifest, _ = self._require_manifest(loc)
        entry = manifest.file(name)
        if entry is None:
            raise ArtifactNotFound(f"artifact {loc.uri} has no file {name!r}")
        data = self._get_listed_bytes(loc, entry)
        if len(data) != entry.size or sha256_bytes(data) != entry.sha256:
            raise IntegrityError(f"file {name!r} of artifact {loc.uri} does not match its manifest hash")
        return data

    def open_text(self, uri: str, name: str) -> str:
        return self.read_bytes(uri, name).decode("utf-8")

    def read_json(self, uri: str, name: str) -> Any:
        return json.loads(self.read_bytes(uri, name))

    # ---- internals

    def _locate(self, uri: str) -> _Located:
        store, prefix = open_store(uri, self.settings)
        return _Located(store, prefix)

    def _read_manifest(self, loc: _Located) -> tuple[Manifest, bytes] | None:
        try:
            raw = loc.store.get_bytes(loc.key(MANIFEST_NAME))
        except ArtifactNotFound:
            return None
        return Manifest.from_bytes(raw, loc.uri), raw

    def _require_manifest(self, loc: _Located) -> tuple[Manifest, bytes]:
        found = self._read_manifest(loc)
        if found is None:
            raise ArtifactNotFound(f"no artifact at {loc.uri} (no {MANIFEST_NAME}: missing or never completed)")
        return found

    def _get_listed_bytes(self, loc: _Located, entry: ManifestFile) -> bytes:
        try:
            return loc.store.get_bytes(loc.key(entry.path))
        except ArtifactNotFound:
            raise IntegrityError(f"file {entry.path!r} listed in the manifest of {loc.uri} is missing") from None

    def _fetch_into_cache(self, loc: _Located, manifest: Manifest, raw: bytes, sha: str) -> Path:
        cache_root = Path(self.settings.cache_dir)
        final = cache_root / sha
        if final.is_dir():
            try:
                _verify_cached(final, manifest, raw, loc.uri)
                return final
            except IntegrityError as exc:
                log.warning("cached copy %s is damaged (%s); downloading again", final, exc.message)
                shutil.rmtree(final, ignore_errors=True)

        # Download into a private temp dir and rename it into place only once complete and
        # verified, so a cache dir named by its hash is never partial or corrupted. A full disk is
        # ResourceExhausted and the staging dir goes (it would hold the space).
        with disk_full_is_resource_exhausted(f"caching {loc.uri} in {cache_root}"):
            cache_root.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=cache_root, prefix=f"{TEMP_PREFIX}{sha[:16]}-"))
            try:
                started = time.monotonic()
                for entry in manifest.files:
                    dest = staging / entry.path
                    self._download_listed(loc, entry, dest)
                    _verify_file(dest, entry, loc.uri)
                (staging / MANIFEST_NAME).write_bytes(raw)
                _log_download(loc.uri, manifest.total_size, time.monotonic() - started)
                return _move_into_place(staging, final, manifest, raw, loc.uri)
            finally:
                shutil.rmtree(staging, ignore_errors=True)

    def _download_listed(self, loc: _Located, entry: ManifestFile, dest: Path) -> None:
        try:
            loc.store.get_file(loc.key(entry.path), dest)
        except ArtifactNotFound:
            raise IntegrityError(f"file {entry.path!r} listed in the manifest of {loc.uri} is missing") from None


def _uri_and_expected_hashes(ref_or_uri: ArtifactRef | str, expected_sha256: str | None) -> tuple[str, list[str]]:
    if isinstance(ref_or_uri, ArtifactRef):
        expected = [ref_or_uri.sha256] + ([expected_sha256] if expected_sha256 else [])
        return ref_or_uri.uri, expected
    return ref_or_uri, [expected_sha256] if expected_sha256 else []


def _files_under(src_dir: Path) -> dict[str, Path]:
    """Relative POSIX path -> file, recursively; symlinked files (e.g. HF cache snapshots) are followed."""
    files: dict[str, Path] = {}
    for dirpath, _dirs, names in os.walk(src_dir):
        for name in names:
            path = Path(dirpath) / name
            if path.is_file():
                files[path.relative_to(src_dir).as_posix()] = path
    return dict(sorted(files.items()))


def _describe_file(rel: str, path: Path) -> ManifestFile:
    try:
        return ManifestFile(path=rel, size=path.stat().st_size, sha256=sha256_file(path))
    except ValidationError as exc:
        raise InvalidSpec(f"cannot store {path}: {exc.errors()[0]['msg']}", field="src_dir") from None


def _verify_file(path: Path, entry: ManifestFile, uri: str) -> None:
    if not path.is_file():
        raise IntegrityError(f"file {entry.path!r} of artifact {uri} is missing")
    size = path.stat().st_size
    if size != entry.size:
        raise IntegrityError(f"file {entry.path!r} of artifact {uri} has {size} bytes, manifest says {entry.size}")
    if sha256_file(path) != entry.sha256:
        raise IntegrityError(f"file {entry.path!r} of artifact {uri} does not match its manifest sha256")


def _verify_folder(folder: Path, manifest: Manifest, uri: str) -> None:
    for entry in manifest.files:
        _verify_file(folder / entry.path, entry, uri)


def _verify_cached(folder: Path, manifest: Manifest, raw: bytes, uri: str) -> None:
    cached_manifest = folder / MANIFEST_NAME
    if not cached_manifest.is_file() or cached_manifest.read_bytes() != raw:
        raise IntegrityError(f"cached manifest of {uri} in {folder} is missing or differs")
    _verify_folder(folder, manifest, uri)


def _move_into_place(staging: Path, final: Path, manifest: Manifest, raw: bytes, uri: str) -> Path:
    try:
        os.rename(staging, final)
    except OSError:
        if not final.is_dir():
            raise
        # A concurrent fetch of the same artifact finished first; its copy is as good as ours.
        _verify_cached(final, manifest, raw, uri)
    return final


def _log_download(uri: str, size: int, seconds: float) -> None:
    rate = size / 1e6 / seconds if seconds > 0 else float("inf")
    log.info("fetched %s (%d bytes in %.2fs, %.1f MB/s)", uri, size, seconds, rate)
