"""Typed specs: frozen pydantic models validated at the edge, hashed for identity."""

from __future__ import annotations

import copy
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from genleak.core.hashing import canonical_json, sha256_bytes
from genleak.core.errors import InvalidSpec

T = TypeVar("T", bound="Spec")


class Spec(BaseModel):
    """Base for every config/spec: immutable, unknown keys rejected, hashable identity."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    def spec_hash(self) -> str:
        return sha256_bytes(canonical_json(self.model_dump(mode="json")).encode())


# Request/spec data is untrusted: YAML aliases can make a few hundred bytes expand to 10^9 nodes
# (a "billion laughs" that would hang hashing), and deep nesting can exhaust the stack.
MAX_SPEC_NODES = 1_000_000
MAX_SPEC_DEPTH = 64


def check_input_size(data: Any, where: str = "", max_nodes: int = MAX_SPEC_NODES,
                     max_depth: int = MAX_SPEC_DEPTH) -> None:
    """InvalidSpec if `data` (expanded, as hashing would see it) has more than `max_nodes` values or
    nests deeper than `max_depth`; iterative and stops at the limit, so the check itself is cheap."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            raise InvalidSpec(f"input expands to more than {max_nodes} values (YAML aliases?)", field=where or None)
        if depth > max_depth:
            raise InvalidSpec(f"input nests deeper than {max_depth} levels", field=where or None)
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
            nodes += len(value)  # the keys
        elif isinstance(value, (list, tuple)):
            stack.extend((v, depth + 1) for v in value)


def parse_spec(model: type[T], data: Any, where: str = "") -> T:
    """Validate `data` into `model`; errors become InvalidSpec naming the dotted field path."""
    check_input_size(data, where)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"])
        if where:
            path = f"{where}.{path}" if path else where
        more = f" (and {len(exc.errors()) - 1} more errors)" if len(exc.errors()) > 1 else ""
        raise InvalidSpec(f"{first['msg'].removeprefix('Value error, ')}{more}", field=path or None) from None


def overrides_of(model: type[Spec]) -> type[Spec]:
    """A spec with `model`'s fields, each optional and unset by default: the settings a caller overrides
    on top of someone else's defaults (a task's own decoding defaults, say). Set values are checked
    by the same field constraints; `model_dump(exclude_none=True)` gives just the overrides."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        optional = copy.copy(info)
        optional.default, optional.default_factory = None, None
        fields[name] = (info.annotation | None, optional)
    return create_model(f"{model.__name__}Overrides", __base__=Spec, __doc__=f"Overrides of {model.__name__}",
                        **fields)


class ModelSpec(Spec):
    """A model: artifact URI (file://, s3://) or local HF folder."""

    uri: str = Field(min_length=1, description="Artifact URI or local folder of an HF causal LM")
    trust_remote_code: bool = Field(False, description="Run model code shipped with the checkpoint (off by default)")
    allow_pickle: bool = Field(False, description="Accept pickle-only weights (.bin/.pt), converted once to "
                                                  "safetensors with torch's weights-only loader (off by default)")

    @field_validator("uri")
    @classmethod
    def _plausible_location(cls, uri: str) -> str:
        # zoo: names and local folders are resolved later; store URIs must not escape their root.
        if "\x00" in uri:
            raise ValueError("model URI contains a NUL byte")
        if uri.startswith("hf://"):
            from genleak.core.hub import parse_hf_uri

            try:
                parse_hf_uri(uri, "uri")
            except InvalidSpec as exc:
                raise ValueError(exc.message.removeprefix("uri: ")) from None
            return uri
        return _checked_store_uri(uri) if "://" in uri else uri


class ArtifactSpec(Spec):
    """A reference to an artifact; `sha256` (the manifest hash) pins its content when given."""

    uri: str = Field(min_length=1, description="Artifact URI")
    sha256: str = Field("", pattern=r"^([0-9a-f]{64})?$",
                        description="Expected manifest sha256 (verified on read when set)")
    kind: str = Field("", description="Artifact kind, informational")

    @field_validator("uri")
    @classmethod
    def _store_uri(cls, uri: str) -> str:
        return _checked_store_uri(uri)


def _checked_store_uri(uri: str) -> str:
    """No `..` segment and no NUL (the store cannot be escaped); a scheme must be a registered one.
    A bare relative name passes here and is refused by the store when used (placeholders in tests)."""
    from genleak.core.store.registry import check_uri  # the store package imports this module's peers

    try:
        if "://" in uri or uri.startswith("/"):
            return check_uri(uri)
        if "\x00" in uri or ".." in uri.split("/"):
            raise InvalidSpec(f"store URI {uri!r} must not contain '..' segments or NUL bytes", field="uri")
        return uri
    except InvalidSpec as exc:
        raise ValueError(exc.message.removeprefix("uri: ")) from None
