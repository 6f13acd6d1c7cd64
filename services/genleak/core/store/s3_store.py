"""Object store on S3 / MinIO through the `minio` client. Credentials: the configured keys, else the
standard AWS chain (environment, shared file, web identity / IRSA, container, instance role): s3_credentials."""

from __future__ import annotations

import io
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, TypeVar

import certifi
import urllib3
from minio import Minio
from minio.error import InvalidResponseError, S3Error, ServerError
from minio.helpers import MAX_MULTIPART_COUNT, MAX_MULTIPART_OBJECT_SIZE, check_bucket_name

from genleak.core.errors import (
    ArtifactNotFound, InvalidSpec, ResourceExhausted, StoreAccessDenied, StoreUnavailable,
)
from genleak.core.retry import RetryBudgetSpent, RetryPolicy, TransientFailure, call_with_retry
from genleak.core.settings import StoreSettings
from genleak.core.store.objects import TEMP_PREFIX, disk_full_is_resource_exhausted, join_key, normalize_key
from genleak.core.store.s3_credentials import s3_credentials

log = logging.getLogger(__name__)

T = TypeVar("T")

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "NoSuchObject", "ResourceNotFound"})
# Credentials or policy: a permanent refusal (the controller's job retry must not wait on it).
_DENIED_CODES = frozenset({"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled",
                           "AccountProblem", "InvalidToken", "ExpiredToken"})
_TRANSIENT_CODES = frozenset({
    "InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout",
    "XMinioServerNotInitialized", "XMinioReadQuorum", "XMinioWriteQuorum",  # MinIO starting or degraded
})
# The endpoint is up but has no room: retrying will not help, and the caller should see it as such.
_FULL_CODES = frozenset({"EntityTooLarge", "XMinioStorageFull", "QuotaExceeded", "XMinioAdminBucketQuotaExceeded"})
# Network-level failures (refused, reset, timed out) are worth retrying; S3 errors mostly are not.
_TRANSIENT_EXCEPTIONS = (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)
_MiB = 1024 * 1024


# Each attempt is bounded by the HTTP client's timeouts; a connect never waits longer than the retry
# budget (at least 1 s), so an unreachable endpoint cannot outlast GENLEAK_STORE_RETRY_SECONDS by much.
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 300.0


def store_retry_policy(budget_seconds: float) -> RetryPolicy:
    """Retry of transient S3 failures within GENLEAK_STORE_RETRY_SECONDS per operation; short delays,
    since one store operation is a small part of a job."""
    return RetryPolicy(budget_seconds=budget_seconds, initial_delay_seconds=0.25, max_delay_seconds=4.0)


DEFAULT_RETRY = store_retry_policy(StoreSettings.model_fields["retry_seconds"].default)


class S3ObjectStore:
    def __init__(self, bucket: str, prefix: str, settings: StoreSettings, retry: RetryPolicy | None = None):
        self.bucket = _valid_bucket(bucket)
        self.prefix = prefix.strip("/")
        self.endpoint = _endpoint(settings)
        self.retry = retry or store_retry_policy(settings.retry_seconds)
        self._part_size = settings.s3_part_size
        self._bucket_ready = False
        self._client = Minio(
            self.endpoint,
            credentials=s3_credentials(settings),  # the configured keys, else the standard AWS chain
            secure=settings.s3_secure,
            region=settings.s3_region or None,
            http_client=_http_client(self.retry),
        )

    def put_file(self, key: str, src: Path) -> None:
        name = self._object_name(key)
        part_size = _part_size(Path(src).stat().st_size, self._part_size, self.uri(key))  # before any request
        self._ensure_bucket()
        # An explicit part_size makes large checkpoints multipart with bounded memory per part. A retry
        # uploads the whole object again; an interrupted multipart upload is never a visible object.
        self._call("upload", key, lambda: self._client.fput_object(self.bucket, name, str(src), part_size=part_size))

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
        with disk_full_is_resource_exhausted(f"downloading s3://{self.bucket}/{name} to {dest}"):
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
        """Run one S3 operation, retrying transient failures with backoff until the policy's time
        budget is spent; translate failures into domain errors. Every operation is idempotent (a put
        rewrites the same bytes, a get rewrites its temp file), so repeating one is safe."""
        uri = self.uri(key)
        try:
            return call_with_retry(lambda: self._attempt(what, uri, operation), self.retry,
                                   what=f"S3 {what} of {uri}", log=log)
        except RetryBudgetSpent as spent:
            raise StoreUnavailable(
                f"S3 endpoint {self.endpoint} unavailable: {what} of {uri} failed after {spent.attempts} attempts "
                f"in {spent.elapsed_seconds:.1f}s (retry budget {spent.budget_seconds:g}s, "
                f"GENLEAK_STORE_RETRY_SECONDS): {spent.reason}"
            ) from None

    def _attempt(self, what: str, uri: str, operation: Callable[[], T]) -> T:
        """One try: the result, a domain error for a failure that would repeat, or TransientFailure."""
        try:
            return operation()
        except S3Error as exc:
            if exc.code in _NOT_FOUND_CODES:
                raise ArtifactNotFound(f"no object at {uri}") from None
            if exc.code in _DENIED_CODES:
                raise StoreAccessDenied(f"S3 {what} of {uri} refused by {self.endpoint}: "
                                        f"{exc.code}: {exc.message} (check the store credentials)") from exc
            if exc.code in _FULL_CODES:
                raise ResourceExhausted(f"S3 {what} of {uri} refused by {self.endpoint}: "
                                        f"{exc.code}: {exc.message}") from exc
            if not _transient_s3_error(exc):
                raise StoreUnavailable(f"S3 {what} of {uri} failed: {exc.code}: {exc.message}") from exc
            raise TransientFailure(f"{exc.code}: {exc.message}") from exc
        except (ServerError, InvalidResponseError) as exc:
            if not _transient_status(_http_status(exc)):
                raise StoreUnavailable(f"S3 {what} of {uri} failed: {exc}") from exc
            raise TransientFailure(f"{type(exc).__name__}: {exc}") from exc
        except _TRANSIENT_EXCEPTIONS as exc:
            raise TransientFailure(_describe(exc)) from exc


def _transient_s3_error(exc: S3Error) -> bool:
    """A listed code, or any error answered with a 5xx/429 status (a proxy's or gateway's own)."""
    return exc.code in _TRANSIENT_CODES or _transient_status(getattr(exc.response, "status", None))


def _http_status(exc: Exception) -> int | None:
    if isinstance(exc, ServerError):
        return exc.status_code
    return getattr(exc, "_code", None)  # InvalidResponseError keeps the status privately


def _transient_status(status: int | None) -> bool:
    """5xx (but 501 Not Implemented), 429 Too Many Requests and 408 Request Timeout are worth another
    try; other statuses (an HTML 403 from a proxy) would fail again. Unknown: retry, the budget bounds it."""
    return status is None or (status >= 500 and status != 501) or status in (408, 429)


def _part_size(size: int, configured: int, uri: str) -> int:
    """The configured part size, raised (to whole MiB) when the object would need more than S3's
    10,000 parts; objects over S3's 5 TiB limit are refused before anything is sent."""
    if size > MAX_MULTIPART_OBJECT_SIZE:
        raise ResourceExhausted(f"cannot upload {uri}: {size} bytes is over the S3 object size limit of "
                                f"{MAX_MULTIPART_OBJECT_SIZE} bytes (5 TiB)")
    needed = -(-size // MAX_MULTIPART_COUNT)
    if needed <= configured:
        return configured
    return -(-needed // _MiB) * _MiB


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
    connect = min(CONNECT_TIMEOUT_S, max(1.0, retry.budget_seconds))
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=connect, read=READ_TIMEOUT_S),
        maxsize=10,
        cert_reqs="CERT_REQUIRED",
        ca_certs=certifi.where(),
        retries=urllib3.Retry(total=0, redirect=0, raise_on_status=False),
    )


def _describe(exc: BaseException) -> str:
    """MaxRetryError wraps the real cause (e.g. connection refused); show that instead."""
    reason = getattr(exc, "reason", None)
    return f"{type(reason).__name__}: {reason}" if reason is not None else f"{type(exc).__name__}: {exc}"
