"""URI scheme -> backend. The only place that knows which schemes exist."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from genleak.core.errors import InvalidSpec
from genleak.core.registry import Registry
from genleak.core.settings import StoreSettings
from genleak.core.store.file_store import FileObjectStore
from genleak.core.store.objects import ObjectStore, normalize_key
from genleak.core.store.s3_store import S3ObjectStore

# A factory gets what follows "scheme://" and returns (store, key prefix inside that store).
StoreFactory = Callable[[str, StoreSettings], tuple[ObjectStore, str]]

STORES: Registry[StoreFactory] = Registry("store URI scheme", field="uri")


def register_store(scheme: str, factory: StoreFactory) -> None:
    STORES.register(scheme.lower(), factory)


def registered_schemes() -> list[str]:
    return STORES.names()


def open_store(uri: str, settings: StoreSettings) -> tuple[ObjectStore, str]:
    """Return the store holding `uri` and the key prefix under which `uri`'s objects live."""
    scheme, location = _split_uri(uri)
    _require_scheme(uri, scheme)
    return STORES.get(scheme)(location, settings)


def check_uri(uri: str) -> str:
    """Validate a store URI without opening it (scheme registered, nothing escaping); returns it."""
    scheme, _ = _split_uri(uri)
    _require_scheme(uri, scheme)
    return uri


def _require_scheme(uri: str, scheme: str) -> None:
    # Not STORES.get's error: users write whole URIs, so the message shows theirs and the accepted forms.
    if scheme not in STORES:
        valid = ", ".join(f"{s}://" for s in registered_schemes())
        raise InvalidSpec(
            f"unsupported store URI {uri!r}: scheme must be one of {valid} (or an absolute path)", field="uri"
        )


def _split_uri(uri: str) -> tuple[str, str]:
    if uri.startswith("/"):
        scheme, location = "file", uri
    else:
        scheme, sep, location = uri.partition("://")
        if not sep:
            raise InvalidSpec(f"store URI {uri!r} must be scheme://location or an absolute path", field="uri")
    _refuse_escapes(uri, location)
    return scheme.lower(), location


def _refuse_escapes(uri: str, location: str) -> None:
    """A URI names one place: no `..` segment may climb out of its bucket or folder, and no NUL
    byte may cut the path short in the OS (every scheme; keys inside the artifact are checked too)."""
    if "\x00" in location:
        raise InvalidSpec(f"store URI {uri!r} contains a NUL byte", field="uri")
    if ".." in location.split("/"):
        raise InvalidSpec(f"store URI {uri!r} must not contain '..' segments", field="uri")


def _open_file(location: str, settings: StoreSettings) -> tuple[ObjectStore, str]:
    # The store is rooted at the path itself, so no key can reach outside the artifact folder.
    if not location.startswith("/"):
        raise InvalidSpec(f"file URIs must be absolute: file:///abs/path (got file://{location})", field="uri")
    return FileObjectStore(Path(location)), ""


def _open_s3(location: str, settings: StoreSettings) -> tuple[ObjectStore, str]:
    bucket, _, prefix = location.partition("/")
    if not bucket:
        raise InvalidSpec(f"s3 URI needs a bucket: s3://bucket/prefix (got s3://{location})", field="uri")
    prefix = prefix.strip("/")
    if prefix:
        try:
            prefix = normalize_key(prefix)  # keys are checked again on every call; fail at the URI already
        except InvalidSpec as exc:
            raise InvalidSpec(f"invalid s3 URI s3://{location}: {exc.message.removeprefix('key: ')}",
                              field="uri") from None
    return S3ObjectStore(bucket, "", settings), prefix


register_store("file", _open_file)
register_store("s3", _open_s3)
