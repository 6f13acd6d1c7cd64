"""Which credentials the S3 store signs with, against moto: configured keys win; without them the
standard AWS chain (environment, shared credentials file, web identity / IRSA through STS, instance
metadata); with nothing at all a clear PERMISSION_DENIED at once, never anonymous requests."""

from __future__ import annotations

import io
import logging
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from minio.credentials import Credentials, Provider, StaticProvider

from genleak.core.errors import InvalidSpec, StoreAccessDenied, StoreUnavailable
from genleak.core.settings import Settings, StoreSettings
from genleak.core.store.s3_credentials import (
    INSTANCE_METADATA, SHARED_FILE, WEB_IDENTITY, StandardChain, s3_credentials,
)
from genleak.core.store.s3_store import S3ObjectStore

moto_server = pytest.importorskip("moto.server")

ROLE_ARN = "arn:aws:iam::123456789012:role/genleak-services"


@pytest.fixture(scope="module")
def moto_endpoint() -> str:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"{host}:{port}"
    server.stop()


class StsCalls(list):
    """The STS requests the fake STS saw, as parsed query parameters."""


@pytest.fixture(scope="module")
def sts_endpoint() -> tuple[str, StsCalls]:
    """moto's STS behind a shim: minio sends AssumeRoleWithWebIdentity as a query string, and moto's
    server finds the action of an unsigned request only in the body (real STS accepts both)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    moto_app = DomainDispatcherApplication(create_backend_app)
    calls = StsCalls()

    def app(environ, start_response):
        query = environ.get("QUERY_STRING", "")
        calls.append({k: v[0] for k, v in parse_qs(query).items()})
        body = query.encode()
        environ.update({"QUERY_STRING": "", "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
                        "CONTENT_TYPE": "application/x-www-form-urlencoded"})
        return moto_app(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", calls
    server.shutdown()


@pytest.fixture()
def aws_env(monkeypatch, tmp_path) -> pytest.MonkeyPatch:
    """No AWS configuration at all: no AWS_* variables, an empty home, instance metadata off."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def _settings(endpoint: str, tmp_path: Path, **extra) -> StoreSettings:
    return StoreSettings(root="s3://unused/x", cache_dir=tmp_path / "cache", s3_endpoint=endpoint, s3_secure=False,
                         s3_region="us-east-1", **extra)


def _round_trip(store: S3ObjectStore) -> None:
    key = f"creds/{uuid.uuid4().hex}"
    store.put_bytes(key, b"signed")
    assert store.get_bytes(key) == b"signed" and store.exists(key)


def _store(endpoint: str, tmp_path: Path, **extra) -> S3ObjectStore:
    return S3ObjectStore(f"genleak-{uuid.uuid4().hex[:12]}", "p", _settings(endpoint, tmp_path, **extra))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _credentials_file(tmp_path: Path, profile: str, key: str) -> Path:
    path = tmp_path / "aws-credentials"
    path.write_text(f"[{profile}]\naws_access_key_id = {key}\naws_secret_access_key = {key}-secret\n")
    return path


# ---- configured keys win

def test_configured_keys_are_used_even_when_the_chain_has_credentials(aws_env, moto_endpoint, tmp_path):
    aws_env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(_credentials_file(tmp_path, "default", "from-file")))
    store = _store(moto_endpoint, tmp_path, s3_access_key="configured", s3_secret_key="configured-secret")
    provider = store._client._provider
    assert isinstance(provider, StaticProvider)
    creds = provider.retrieve()
    assert (creds.access_key, creds.secret_key, creds.session_token) == ("configured", "configured-secret", None)
    _round_trip(store)


def test_aws_environment_keys_carry_their_session_token_and_genleak_keys_do_not(aws_env, tmp_path):
    aws_env.setenv("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE")
    aws_env.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    aws_env.setenv("AWS_SESSION_TOKEN", "aws-session-token")
    from_aws = Settings.from_env().store
    assert s3_credentials(from_aws).retrieve().session_token == "aws-session-token"
    aws_env.setenv("GENLEAK_S3_ACCESS_KEY", "minio-user")
    aws_env.setenv("GENLEAK_S3_SECRET_KEY", "minio-secret")
    static = s3_credentials(Settings.from_env().store).retrieve()
    assert (static.access_key, static.session_token) == ("minio-user", None)  # a stray AWS token is not sent


def test_half_a_key_pair_is_a_clear_error(aws_env, tmp_path):
    with pytest.raises(InvalidSpec, match="GENLEAK_S3_SECRET_KEY is missing"):
        _store("127.0.0.1:9", tmp_path, s3_access_key="only-the-access-key")


# ---- no keys: the standard chain

def test_without_keys_the_shared_credentials_file_profile_is_used(aws_env, moto_endpoint, tmp_path):
    aws_env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(_credentials_file(tmp_path, "genleak", "from-profile")))
    aws_env.setenv("AWS_PROFILE", "genleak")
    store = _store(moto_endpoint, tmp_path)
    chain = store._client._provider
    assert isinstance(chain, StandardChain) and chain.source is None
    _round_trip(store)
    assert chain.source == SHARED_FILE and chain.retrieve().access_key == "from-profile"


def test_without_keys_web_identity_is_exchanged_at_sts_like_irsa(aws_env, moto_endpoint, sts_endpoint, tmp_path):
    sts_url, calls = sts_endpoint
    token = tmp_path / "token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.projected-service-account-token.sig")
    # What the EKS pod identity webhook injects for IRSA, plus an STS endpoint of our own.
    aws_env.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    aws_env.setenv("AWS_ROLE_ARN", ROLE_ARN)
    aws_env.setenv("AWS_ENDPOINT_URL_STS", sts_url)
    aws_env.delenv("AWS_EC2_METADATA_DISABLED")
    calls.clear()
    store = _store(moto_endpoint, tmp_path)
    _round_trip(store)
    chain = store._client._provider
    assert chain.source == WEB_IDENTITY
    creds = chain.retrieve()
    assert creds.session_token and creds.expiration and not creds.is_expired()
    # The artifact store opens a client per operation: they share the chain, so one exchange serves them all.
    again = _store(moto_endpoint, tmp_path)
    _round_trip(again)
    assert again._client._provider is chain
    assert [c["Action"] for c in calls] == ["AssumeRoleWithWebIdentity"]
    assert calls[0]["RoleArn"] == ROLE_ARN and calls[0]["WebIdentityToken"] == token.read_text()


def test_without_keys_an_instance_role_comes_from_the_metadata_service(aws_env, moto_endpoint, tmp_path):
    aws_env.delenv("AWS_EC2_METADATA_DISABLED")
    aws_env.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", f"http://{moto_endpoint}")  # moto serves IMDSv2
    store = _store(moto_endpoint, tmp_path)
    _round_trip(store)
    assert store._client._provider.source == INSTANCE_METADATA
    assert store._client._provider.retrieve().access_key == "test-key"  # moto's instance role


def test_without_any_credentials_every_operation_is_permission_denied_at_once(aws_env, moto_endpoint, tmp_path):
    store = _store(moto_endpoint, tmp_path, retry_seconds=30)
    started = time.monotonic()
    with pytest.raises(StoreAccessDenied) as info:
        store.put_bytes("k", b"never sent anonymously")
    assert time.monotonic() - started < 2  # not retried: no credentials is not an outage
    assert info.value.code == "PERMISSION_DENIED"
    message = info.value.message
    assert "GENLEAK_S3_ACCESS_KEY" in message and SHARED_FILE in message and "deploy/README.md" in message
    with pytest.raises(StoreAccessDenied):
        store.get_bytes("k")


def test_an_unreachable_metadata_service_means_no_credentials(aws_env, moto_endpoint, tmp_path):
    aws_env.delenv("AWS_EC2_METADATA_DISABLED")
    aws_env.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")  # off EC2
    store = _store(moto_endpoint, tmp_path, retry_seconds=30)
    started = time.monotonic()
    with pytest.raises(StoreAccessDenied, match=r"instance metadata \(IMDS\): unreachable"):
        store.exists("k")
    assert time.monotonic() - started < 10


def test_an_unreachable_sts_is_an_outage_retried_within_the_budget(aws_env, moto_endpoint, tmp_path):
    token = tmp_path / "token"
    token.write_text("jwt")
    aws_env.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    aws_env.setenv("AWS_ROLE_ARN", ROLE_ARN)
    aws_env.setenv("AWS_ENDPOINT_URL_STS", f"http://127.0.0.1:{_closed_port()}")
    store = _store(moto_endpoint, tmp_path, retry_seconds=1)
    with pytest.raises(StoreUnavailable, match="retry budget 1s"):
        store.get_bytes("k")


# ---- caching and refresh

class _Counting(Provider):
    def __init__(self, lifetime: timedelta):
        self.lifetime = lifetime
        self.calls = 0

    def retrieve(self) -> Credentials:
        self.calls += 1
        return Credentials(f"key-{self.calls}", "secret", "token", datetime.utcnow() + self.lifetime)


def test_credentials_are_cached_until_shortly_before_they_expire(aws_env):
    chain = StandardChain()
    fresh, expiring = _Counting(timedelta(hours=1)), _Counting(timedelta(seconds=5))  # minio refreshes 10 s early
    chain._providers = [("fresh", fresh)]
    assert [chain.retrieve().access_key for _ in range(3)] == ["key-1"] * 3 and fresh.calls == 1
    chain = StandardChain()
    chain._providers = [("expiring", expiring)]
    assert [chain.retrieve().access_key for _ in range(3)] == ["key-1", "key-2", "key-3"]
