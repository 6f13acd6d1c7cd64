"""Domain exceptions. Each carries the gRPC status code name it maps to.

Core code raises these; one interceptor (genleak.rpc.interceptors) turns them into
gRPC statuses and the CLI prints them as one-line errors. Core never imports grpc.
"""

from __future__ import annotations

import errno


class GenleakError(Exception):
    """Base class: `code` is a grpc.StatusCode name, `message` is safe to show users."""

    code = "INTERNAL"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidSpec(GenleakError):
    """A request/spec field is invalid. `field` is the dotted path of the offending key."""

    code = "INVALID_ARGUMENT"

    def __init__(self, message: str, field: str | None = None):
        full = f"{field}: {message}" if field else message
        super().__init__(full)
        self.field = field


class ArtifactNotFound(GenleakError):
    code = "NOT_FOUND"


class ModelNotFound(GenleakError):
    code = "NOT_FOUND"


class JobNotFound(GenleakError):
    code = "NOT_FOUND"


class IntegrityError(GenleakError):
    """Stored bytes do not match the manifest's sha256: the artifact is refused."""

    code = "DATA_LOSS"


class UnsafeArtifact(GenleakError):
    """E.g. a pickle checkpoint when only safetensors are allowed."""

    code = "FAILED_PRECONDITION"


class NotReady(GenleakError):
    code = "FAILED_PRECONDITION"


class StoreAccessDenied(GenleakError):
    """The object store refused the credentials or the operation: retrying will not help."""

    code = "PERMISSION_DENIED"


class StoreUnavailable(GenleakError):
    """The object store could not be reached (retryable)."""

    code = "UNAVAILABLE"


class JobFailed(GenleakError):
    code = "ABORTED"


class Cancelled(GenleakError):
    code = "CANCELLED"


class Unauthenticated(GenleakError):
    code = "UNAUTHENTICATED"


class ResourceExhausted(GenleakError):
    code = "RESOURCE_EXHAUSTED"


_DISK_FULL = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
              errno.EFBIG: "file too large (filesystem or process file-size limit)"}


def disk_full_reason(exc: OSError) -> str | None:
    """Why a local write failed when the disk (quota, file-size limit) is the cause; None otherwise."""
    return _DISK_FULL.get(exc.errno) if isinstance(exc, OSError) else None
