"""Typed specs: frozen pydantic models validated at the edge, hashed for identity."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from genleak.core.hashing import canonical_json, sha256_bytes
from genleak.core.errors import InvalidSpec

T = TypeVar("T", bound="Spec")


class Spec(BaseModel):
    """Base for every config/spec: immutable, unknown keys rejected, hashable identity."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    def spec_hash(self) -> str:
        return sha256_bytes(canonical_json(self.model_dump(mode="json")).encode())


def parse_spec(model: type[T], data: Any, where: str = "") -> T:
    """Validate `data` into `model`; errors become InvalidSpec naming the dotted field path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"])
        if where:
            path = f"{where}.{path}" if path else where
        more = f" (and {len(exc.errors()) - 1} more errors)" if len(exc.errors()) > 1 else ""
        raise InvalidSpec(f"{first['msg']}{more}", field=path or None) from None


class ModelSpec(Spec):
    """A model: artifact URI (file://, s3://) or local HF folder."""

    uri: str = Field(min_length=1, description="Artifact URI or local folder of an HF causal LM")
    trust_remote_code: bool = Field(False, description="Run model code shipped with the checkpoint (off by default)")


class ArtifactSpec(Spec):
    """A reference to an artifact; `sha256` (the manifest hash) pins its content when given."""

    uri: str = Field(min_length=1, description="Artifact URI")
    sha256: str = Field("", description="Expected manifest sha256 (verified on read when set)")
    kind: str = Field("", description="Artifact kind, informational")
