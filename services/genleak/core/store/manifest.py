"""The manifest: the list of an artifact's files with sizes and hashes, written last.

Its canonical JSON bytes are the artifact's identity (sha256 of MANIFEST.json).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from genleak.core.errors import IntegrityError, InvalidSpec
from genleak.core.hashing import canonical_json, sha256_bytes
from genleak.core.store.objects import normalize_key

MANIFEST_NAME = "MANIFEST.json"
MANIFEST_FORMAT = "genleak.manifest/v1"


class ManifestFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @field_validator("path")
    @classmethod
    def _safe_relative_path(cls, path: str) -> str:
        # A manifest read from a store is untrusted: its paths become local file paths on fetch.
        try:
            clean = normalize_key(path)
        except InvalidSpec as exc:
            raise ValueError(exc.message) from None
        if clean == MANIFEST_NAME:
            raise ValueError(f"{MANIFEST_NAME} is reserved")
        return clean


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["genleak.manifest/v1"] = MANIFEST_FORMAT
    kind: str = Field(min_length=1)
    files: tuple[ManifestFile, ...]
    meta: dict[str, Any] = Field(default_factory=dict)
    created_at: str

    @model_validator(mode="after")
    def _unique_paths(self) -> "Manifest":
        paths = [f.path for f in self.files]
        if len(set(paths)) != len(paths):
            raise ValueError("duplicate file paths")
        return self

    @classmethod
    def build(cls, kind: str, files: list[ManifestFile], meta: dict[str, Any] | None = None) -> "Manifest":
        meta = meta or {}
        try:
            canonical_json(meta)
        except (TypeError, ValueError) as exc:
            raise InvalidSpec(f"artifact meta must be JSON-serializable: {exc}", field="meta") from None
        created_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        try:
            return cls(kind=kind, files=tuple(sorted(files, key=lambda f: f.path)), meta=meta, created_at=created_at)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise InvalidSpec(first["msg"], field=".".join(str(p) for p in first["loc"]) or None) from None

    @classmethod
    def from_bytes(cls, data: bytes, uri: str) -> "Manifest":
        try:
            return cls.model_validate(json.loads(data))
        except (ValueError, ValidationError) as exc:
            raise IntegrityError(f"malformed {MANIFEST_NAME} at {uri}: {exc}") from None

    def to_bytes(self) -> bytes:
        return canonical_json(self.model_dump(mode="json")).encode("utf-8")

    @property
    def sha256(self) -> str:
        return sha256_bytes(self.to_bytes())

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    def file(self, path: str) -> ManifestFile | None:
        return next((f for f in self.files if f.path == path), None)
