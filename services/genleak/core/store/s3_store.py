"""Object store on S3 / MinIO through the `minio` client."""

from __future__ import annotations

import io
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

import certifi
import urllib3
from minio import Minio
from minio.error import InvalidResponseError, S3Error, ServerError
from minio.helpers import check_bucket_name

from genleak.core.errors import ArtifactNotFound, InvalidSpec, StoreUnavailable
from genleak.core.settings import StoreSettings
from genleak.core.store.objects import TEMP_PREFIX, join_key, normalize_key

log = logging.getLogger(__name__)

T = TypeVar("T")

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "NoSuchObject", "ResourceNotFound"})
_TRANSIENT_CODES = frozenset({"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout"})
# Network-level failures and non-XML (proxy/5xx) answers are worth retrying; S3 errors mostly are not.
_TRANSIENT_EXCEPTIONS = (urllib3.exceptions.HTTPError, ServerError, InvalidResponseError, ConnectionError, TimeoutError)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retry with exponential backoff. Tests shrink it so an unreachable endpoint fails fast."""

    attempts: int = 4
    base_delay_s: float = 0.25
    max_delay_s: float = 4.0
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 300.0

    def delay(self, attempt: int) -> float:
        return min(self.max_delay_s, self.base_delay_s * (2**attempt))


DEFAULT_RETRY = RetryPolicy()


class S3ObjectStore:
    def __init__(self, bucket: str, prefix: str, settings: StoreSettings, retry: RetryPolicy = DEFAULT_RETRY):
        self.bucket = _valid_bucket(bucket)
        self.prefix = prefix.strip("/")
        self.endpoint = _endpoint(settings)
        self.retry = retry
        self._part_size = settings.s3_part_size
        self._bucket_ready = False
        self._client = Minio(
            self.endpoint,
            access_key=settings.s3_access_key or None,
            secret_key=settings.s3_secret_key or None,
            secure=settings.s3_secure,
            region=settings.s3_region or None,
            http_client=_http_client(retry),
        )

    def put_file(self, key: str, src: Path) -> None:
        self._ensure_bucket()
        name = self._object_name(key)
        # An explicit part_size makes large checkpoints multipart with bounded memory per part.
        self._call(
            "upload", key, lambda: self._client.fput_object(self.bucket, name, str(src), part_size=self._part_size)
        )

    def get_file(self, key: str, dest: Path) -> None:
        self._call("download", key, lambda: self._download(self._object_name(key), Path(dest)))

    def put_bytes(self, key: str, data: bytes) -> None:
        self._ensure_bucket()
        name = self._object_name(key)
        self._call("upload", key, lambda: self._client.put_object(self.bucket, name, io.BytesIO(data), len(data)))

    def get_bytes(self, key: str) -> bytes:
        return self._call("download", key, lambda: self._read(self._object_name(key)))

    def exists(self, key: str) -> bool:
        name = self._object_name(key)
        try:
            self._call("stat", key, lambda: self._client.stat_object(self.bucket, name))
        except ArtifactNotFound:
            return False
        return True

    def list(self, prefix: str) -> list[str]:
        # Trailing slash: "a/b" must not match "a/bc/...".
        full = join_key(self.prefix, prefix)
        full = full + "/" if full else ""
        names = self._call("list", prefix, lambda: [o.object_name for o in self._list_objects(full)])
        strip = len(self.prefix) + 1 if self.prefix else 0
        return sorted(name[strip:] for name in names)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/" + join_key(self.prefix, key)

    def _object_name(self, key: str) -> str:
        return join_key(self.prefix, normalize_key(key))

    def _list_objects(self, full_prefix: str) -> list[Any]:
        try:
            return list(self._client.list_objects(self.bucket, prefix=full_prefix, recursive=True))
        except S3Error as exc:
            if exc.code == "NoSuchBucket":  # an empty listing, not an error, for readers
                return []
            raise

    def _read(self, name: str) -> bytes:
        response = self._client.get_object(self.bucket, name)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def _download(self, name: str, dest: Path) -> None:
        """Stream into a temp file next to `dest`, then rename, so a failed download leaves nothing."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=TEMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as out:
                response = self._client.get_object(self.bucket, name)
                try:
                    for chunk in response.stream(1 << 20):
                        out.write(chunk)
                finally:
                    response.close()
                    response.release_conn()
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _ensure_bucket(self) -> None:
        """Writers create the bucket on first use; readers never do (a missing bucket is 'not found')."""
        if not self._bucket_ready:
            self._call("bucket creation", "", self._create_bucket_if_missing)
            self._bucket_ready = True

    def _create_bucket_if_missing(self) -> None:
        if self._client.bucket_exists(self.bucket):
            return
        log.info("creating bucket %s on %s", self.bucket, self.endpoint)
        try:
            self._client.make_bucket(self.bucket)
        except S3Error as exc:
            # Another writer may have created it between our check and our create.
            if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    def _call(self, what: str, key: str, operation: Callable[[], T]) -> T:
        """Run one S3 operation with bounded retries; translate failures into domain errors."""
        uri = self.uri(key)
        for attempt in range(self.retry.attempts):
            try:
                return operation()
            except S3Error as exc:
                if exc.code in _NOT_FOUND_CODES:
                    raise ArtifactNotFound(f"no object at {uri}") from None
                if exc.code not in _TRANSIENT_CODES:
                    raise StoreUnavailable(f"S3 {what} of {uri} failed: {exc.code}: {exc.message}") from exc
                reason = f"{exc.code}: {exc.message}"
            except _TRANSIENT_EXCEPTIONS as exc:
                reason = _describe(exc)
            if attempt + 1 < self.retry.attempts:
                delay = self.retry.delay(attempt)
                log.warning("S3 %s of %s failed (%s); retry %d/%d in %.2fs",
                            what, uri, reason, attempt + 1, self.retry.attempts - 1, delay)
                time.sleep(delay)
        raise StoreUnavailable(
            f"S3 endpoint {self.endpoint} unavailable: {what} of {uri} failed after "
            f"{self.retry.attempts} attempts ({reason})"
        )


def _valid_bucket(bucket: str) -> str:
    try:
        check_bucket_name(bucket)
    except ValueError as exc:
        raise InvalidSpec(f"{exc} (S3 bucket names are 3-63 chars of a-z, 0-9, '.', '-')", field="uri") from None
    return bucket


def _endpoint(settings: StoreSettings) -> str:
    endpoint = settings.s3_endpoint or "s3.amazonaws.com"
    if "://" in endpoint or "/" in endpoint:
        raise InvalidSpec(
            f"S3 endpoint must be host[:port] without scheme or path (got {endpoint!r}); use s3_secure for https",
            field="store.s3_endpoint",
        )
    return endpoint


def _http_client(retry: RetryPolicy) -> urllib3.PoolManager:
    # urllib3's own retries are off: _call owns the retry policy, so attempts stay bounded and logged.
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=retry.connect_timeout_s, read=retry.read_timeout_s),
        maxsize=10,
        cert_reqs="CERT_REQUIRED",
        ca_certs=certifi.where(),
        retries=urllib3.Retry(total=0, redirect=0, raise_on_status=False),
    )


def _describe(exc: BaseException) -> str:
    """MaxRetryError wraps the real cause (e.g. connection refused); show that instead."""
    reason = getattr(exc, "reason", None)
    return f"{type(reason).__name__}: {reason}" if reason is not None else f"{type(exc).__name__}: {exc}"
