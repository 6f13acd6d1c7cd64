"""S3 store retry policy without a server: which failures are retried, the time budget, backoff with
jitter, what each failure becomes (UNAVAILABLE, NOT_FOUND, RESOURCE_EXHAUSTED), multipart sizing."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
import urllib3
from minio.error import InvalidResponseError, S3Error, ServerError

from genleak.core.errors import ArtifactNotFound, InvalidSpec, ResourceExhausted, StoreAccessDenied, StoreUnavailable
from genleak.core.retry import RetryPolicy
from genleak.core.settings import Settings, StoreSettings
from genleak.core.store import open_store
from genleak.core.store.s3_store import DEFAULT_RETRY, S3ObjectStore, _part_size

MiB = 1024 * 1024
ENDPOINT = "127.0.0.1:9"


def _store(**policy) -> S3ObjectStore:
    settings = StoreSettings(s3_endpoint=ENDPOINT, s3_secure=False)
    return S3ObjectStore("bucket", "pre", settings, retry=RetryPolicy(**policy))


def _s3_error(code: str, status: int = 400) -> S3Error:
    return S3Error(SimpleNamespace(status=status), code, f"{code} message", "/bucket/key", "req", "host")


def _refused() -> Exception:
    return urllib3.exceptions.MaxRetryError(None, "/", urllib3.exceptions.NewConnectionError(None, "refused"))


class Flaky:
    """An operation failing with the given exceptions in turn, then answering "ok"."""

    def __init__(self, *failures: Exception):
        self.failures = list(failures)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


@pytest.mark.parametrize("failure", [
    _refused(),
    urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")),
    urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out"),
    ConnectionResetError(104, "Connection reset by peer"),
    _s3_error("SlowDown", 503),
    _s3_error("InternalError", 500),
    _s3_error("XMinioServerNotInitialized", 503),
    _s3_error("SomeGatewayError", 502),  # unknown code, but a 5xx
    InvalidResponseError(503, "text/html", "<html>Service Unavailable</html>"),
    ServerError("server failed with HTTP status code 504", 504),
], ids=lambda e: type(e).__name__ + getattr(e, "code", "") if isinstance(e, S3Error) else type(e).__name__)
def test_transient_failures_are_retried(failure):
    store = _store(initial_delay_seconds=0.001, budget_seconds=5)
    op = Flaky(failure, failure)
    assert store._call("download", "k", op) == "ok" and op.calls == 3


@pytest.mark.parametrize("failure, error, code", [
    (_s3_error("AccessDenied", 403), StoreAccessDenied, "PERMISSION_DENIED"),
    (_s3_error("InvalidAccessKeyId", 403), StoreAccessDenied, "PERMISSION_DENIED"),
    (InvalidResponseError(403, "text/html", "<html>Forbidden</html>"), StoreUnavailable, "UNAVAILABLE"),
    (_s3_error("NoSuchKey", 404), ArtifactNotFound, "NOT_FOUND"),
    (_s3_error("XMinioStorageFull", 507), ResourceExhausted, "RESOURCE_EXHAUSTED"),
    (_s3_error("EntityTooLarge", 400), ResourceExhausted, "RESOURCE_EXHAUSTED"),
])
def test_permanent_failures_are_not_retried(failure, error, code):
    store = _store(initial_delay_seconds=0.001, budget_seconds=5)
    op = Flaky(failure, failure)
    with pytest.raises(error) as info:
        store._call("upload", "k", op)
    assert op.calls == 1 and info.value.code == code and "s3://bucket/pre/k" in info.value.message


def test_an_endpoint_that_stays_down_is_unavailable_once_the_budget_is_spent():
    store = _store(initial_delay_seconds=0.02, max_delay_seconds=0.1, budget_seconds=0.5)
    op = Flaky(*[_refused()] * 1000)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as info:
        store._call("upload", "artifacts/x/weights.bin", op)
    took = time.monotonic() - started
    assert 0.5 <= took < 0.8 and op.calls >= 5
    message = info.value.message
    assert info.value.code == "UNAVAILABLE"
    assert message.startswith(f"S3 endpoint {ENDPOINT} unavailable: upload of s3://bucket/pre/artifacts/x/weights.bin")
    assert f"after {op.calls} attempts" in message and "GENLEAK_STORE_RETRY_SECONDS" in message


def test_a_zero_budget_tries_once():
    op = Flaky(*[_refused()] * 10)
    with pytest.raises(StoreUnavailable, match="after 1 attempts"):
        _store(budget_seconds=0)._call("stat", "k", op)
    assert op.calls == 1


def test_each_retry_is_logged_with_its_reason_and_the_budget_left(caplog):
    caplog.set_level("WARNING")
    op = Flaky(_s3_error("SlowDown", 503))
    assert _store(initial_delay_seconds=0.001, budget_seconds=5)._call("upload", "k", op) == "ok"
    [record] = [r for r in caplog.records if r.name.endswith("s3_store")]
    message = record.getMessage()
    assert message.startswith("S3 upload of s3://bucket/pre/k failed (SlowDown: SlowDown message); retry 1 in ")
    assert "of the 5s retry budget left" in message


def test_backoff_is_exponential_with_jitter_and_capped():
    assert (DEFAULT_RETRY.initial_delay_seconds, DEFAULT_RETRY.max_delay_seconds) == (0.25, 4.0)
    wait = DEFAULT_RETRY.wait()
    for retry, ceiling in [(0, 0.25), (1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (10, 4.0), (100, 4.0)]:
        state = SimpleNamespace(attempt_number=retry + 1)
        delays = [wait(state) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)  # "equal jitter": half fixed, half random
        assert len(set(delays)) > 100  # jittered, not in lockstep


def test_budget_comes_from_settings_and_the_environment():
    assert StoreSettings().retry_seconds == 60
    settings = Settings.from_env({"GENLEAK_STORE_RETRY_SECONDS": "7.5", "GENLEAK_S3_ENDPOINT": ENDPOINT,
                                  "GENLEAK_MAX_ARTIFACT_BYTES": "1000"})
    assert settings.store.retry_seconds == 7.5 and settings.store.max_artifact_bytes == 1000
    store, _ = open_store("s3://bucket/prefix", settings.store)
    assert store.retry.budget_seconds == 7.5
    for bad, name in [("-1", "GENLEAK_STORE_RETRY_SECONDS"), ("soon", "GENLEAK_STORE_RETRY_SECONDS")]:
        with pytest.raises(InvalidSpec, match=name):
            Settings.from_env({"GENLEAK_STORE_RETRY_SECONDS": bad})
    with pytest.raises(InvalidSpec, match="GENLEAK_MAX_ARTIFACT_BYTES"):
        Settings.from_env({"GENLEAK_MAX_ARTIFACT_BYTES": "-5"})


def test_part_size_grows_so_big_objects_stay_within_10000_parts():
    configured = 16 * MiB
    assert _part_size(100 * MiB, configured, "s3://b/k") == configured
    assert _part_size(156 * 1024 * MiB, configured, "s3://b/k") == configured  # 10,000 x 16 MiB still fits
    for size in (200 * 1024**3, 5 * 1024**4):
        part = _part_size(size, configured, "s3://b/k")
        assert part % MiB == 0 and part > configured and -(-size // part) <= 10_000
    with pytest.raises(ResourceExhausted, match="over the S3 object size limit"):
        _part_size(5 * 1024**4 + 1, configured, "s3://b/k")
