"""Artifact store against a real S3 HTTP endpoint (moto server, in-process)."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import socket
import time
import uuid
from pathlib import Path

import pytest
import urllib3
from minio import Minio

from genleak.core.errors import ArtifactNotFound, IntegrityError, StoreUnavailable
from genleak.core.hashing import sha256_bytes
from genleak.core.settings import StoreSettings
from genleak.core.store import MANIFEST_NAME, ArtifactStore, open_store
from genleak.core.retry import RetryPolicy
from genleak.core.store.s3_store import S3ObjectStore

moto_server = pytest.importorskip("moto.server")

log = logging.getLogger(__name__)
MB = 1024 * 1024


@pytest.fixture(scope="module")
def s3_endpoint() -> str:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"{host}:{port}"
    server.stop()


@pytest.fixture()
def bucket() -> str:
    return f"genleak-{uuid.uuid4().hex[:12]}"


@pytest.fixture()
def settings(s3_endpoint: str, bucket: str, tmp_path: Path) -> StoreSettings:
    return _settings(s3_endpoint, f"s3://{bucket}/genleak", tmp_path / "cache")


@pytest.fixture()
def raw_client(s3_endpoint: str, bucket: str) -> Minio:
    """A plain minio client: proves artifacts are ordinary S3 objects, and lets tests tamper with them."""
    client = Minio(s3_endpoint, access_key="testing", secret_key="testing", secure=False, region="us-east-1")
    yield client
    _delete_bucket(client, bucket)  # moto keeps objects in RAM: free them after each test


@pytest.fixture()
def checkpoint(tmp_path: Path) -> Path:
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_layer": 2}))
    (folder / "model.safetensors").write_bytes(os.urandom(3 * MB + 17))
    (folder / "tokenizer.json").write_text(json.dumps({"vocab": {f"t{i}": i for i in range(500)}}))
    return folder


def _settings(endpoint: str, root: str, cache_dir: Path, **extra) -> StoreSettings:
    return StoreSettings(root=root, cache_dir=cache_dir, s3_endpoint=endpoint, s3_access_key="testing",
                         s3_secret_key="testing", s3_secure=False, s3_region="us-east-1", **extra)


def _delete_bucket(client: Minio, bucket: str) -> None:
    if not client.bucket_exists(bucket):
        return
    for obj in client.list_objects(bucket, recursive=True):
        client.remove_object(bucket, obj.object_name)
    client.remove_bucket(bucket)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_checkpoint_folder_round_trip(settings: StoreSettings, raw_client: Minio, bucket: str,
                                      checkpoint: Path) -> None:
    store = ArtifactStore(settings)
    uri = store.uri_for("artifacts", "finetune", "abc")
    ref = store.publish(checkpoint, uri, kind="checkpoint", meta={"spec_hash": "abc"})

    assert ref.uri == f"s3://{bucket}/genleak/artifacts/finetune/abc"
    fetched = store.fetch(ref)
    assert fetched == settings.cache_dir / ref.sha256
    got = _files(fetched)
    assert sha256_bytes(got.pop(MANIFEST_NAME)) == ref.sha256
    assert got == _files(checkpoint)

    # Plain S3 objects, readable by any client; no temp or partial objects left behind.
    names = sorted(o.object_name for o in raw_client.list_objects(bucket, recursive=True))
    prefix = "genleak/artifacts/finetune/abc/"
    assert names == [prefix + n for n in ("MANIFEST.json", "config.json", "model.safetensors", "tokenizer.json")]
    raw_config = raw_client.get_object(bucket, prefix + "config.json").read()
    assert json.loads(raw_config) == {"model_type": "gpt2", "n_layer": 2}
    assert store.read_json(uri, "config.json")["n_layer"] == 2
    assert [p.name for p in settings.cache_dir.iterdir()] == [ref.sha256]


def test_cached_copy_is_reused_without_download(settings: StoreSettings, raw_client: Minio, checkpoint: Path,
                                                monkeypatch) -> None:
    store = ArtifactStore(settings)
    ref = store.publish(checkpoint, store.uri_for("cached"), kind="checkpoint")
    first = store.fetch(ref)

    def no_download(self, key, dest):
        raise AssertionError("a verified cache dir must be reused")

    monkeypatch.setattr(S3ObjectStore, "get_file", no_download)
    assert store.fetch(ref.uri) == first


def test_second_publish_is_a_no_op(settings: StoreSettings, raw_client: Minio, bucket: str, checkpoint: Path,
                                   monkeypatch) -> None:
    store = ArtifactStore(settings)
    uri = store.uri_for("immutable")
    first = store.publish(checkpoint, uri, kind="checkpoint")
    uploads: list[str] = []
    monkeypatch.setattr(S3ObjectStore, "put_file", lambda self, key, src: uploads.append(key))
    monkeypatch.setattr(S3ObjectStore, "put_bytes", lambda self, key, data: uploads.append(key))

    assert store.publish(checkpoint, uri, kind="checkpoint") == first
    assert uploads == []


def test_100mb_object_uses_multipart_and_round_trips(s3_endpoint: str, raw_client: Minio, bucket: str,
                                                     tmp_path: Path) -> None:
    settings = _settings(s3_endpoint, f"s3://{bucket}/big", tmp_path / "cache", s3_part_size=16 * MB)
    store = ArtifactStore(settings)
    src = tmp_path / "model.safetensors"
    block = os.urandom(MB)
    with open(src, "wb") as fh:
        for i in range(100):
            fh.write(i.to_bytes(4, "little") + block[4:])  # distinct parts, cheap to generate
    size = src.stat().st_size

    started = time.monotonic()
    ref = store.publish_file(src, store.uri_for("weights"), kind="checkpoint")
    put_s = time.monotonic() - started
    started = time.monotonic()
    fetched = store.fetch(ref)
    get_s = time.monotonic() - started
    log.info("100 MB on moto: publish %.2fs (%.0f MB/s incl. hashing), fetch %.2fs (%.0f MB/s incl. verify)",
             put_s, size / MB / put_s, get_s, size / MB / get_s)

    etag = raw_client.stat_object(bucket, "big/weights/model.safetensors").etag
    assert etag.endswith("-7"), etag  # 100 MB / 16 MB parts = 7 parts
    assert (fetched / "model.safetensors").stat().st_size == size
    src.unlink()


def test_missing_keys_and_buckets_are_not_found(s3_endpoint: str, settings: StoreSettings, raw_client: Minio,
                                                bucket: str, tmp_path: Path) -> None:
    store = ArtifactStore(settings)
    missing = store.uri_for("never", "published")
    assert store.lookup(missing) is None  # bucket does not even exist yet
    with pytest.raises(ArtifactNotFound, match=missing):
        store.fetch(missing)

    objects, prefix = open_store(settings.root, settings)
    objects.put_bytes(f"{prefix}/present.txt", b"x")  # creates the bucket
    with pytest.raises(ArtifactNotFound, match=f"s3://{bucket}/genleak/absent.bin"):
        objects.get_file(f"{prefix}/absent.bin", tmp_path / "absent.bin")
    with pytest.raises(ArtifactNotFound):
        objects.get_bytes(f"{prefix}/absent.bin")
    assert not (tmp_path / "absent.bin").exists()
    assert objects.exists(f"{prefix}/present.txt") and not objects.exists(f"{prefix}/absent.bin")
    assert objects.list(prefix) == ["genleak/present.txt"]
    assert store.lookup(missing) is None


def test_corrupted_object_is_refused_and_cache_not_poisoned(settings: StoreSettings, raw_client: Minio, bucket: str,
                                                            checkpoint: Path) -> None:
    store = ArtifactStore(settings)
    ref = store.publish(checkpoint, store.uri_for("tampered"), kind="checkpoint")
    key = "genleak/tampered/model.safetensors"
    original = (checkpoint / "model.safetensors").read_bytes()
    tampered = bytes([original[0] ^ 0xFF]) + original[1:]
    raw_client.put_object(bucket, key, io.BytesIO(tampered), len(tampered))

    with pytest.raises(IntegrityError, match=r"model\.safetensors.*s3://.*tampered"):
        store.fetch(ref)
    assert list(settings.cache_dir.iterdir()) == []  # neither a final nor a staging dir survives

    raw_client.put_object(bucket, key, io.BytesIO(original), len(original))
    fetched = store.fetch(ref)
    assert (fetched / "model.safetensors").read_bytes() == original


def test_damaged_cache_copy_is_downloaded_again(settings: StoreSettings, raw_client: Minio, checkpoint: Path) -> None:
    store = ArtifactStore(settings)
    ref = store.publish(checkpoint, store.uri_for("heal"), kind="checkpoint")
    cached = store.fetch(ref)
    (cached / "tokenizer.json").write_text("garbage")

    assert store.fetch(ref) == cached
    assert (cached / "tokenizer.json").read_bytes() == (checkpoint / "tokenizer.json").read_bytes()


def test_unreachable_endpoint_fails_fast_with_store_unavailable(tmp_path: Path) -> None:
    endpoint = f"127.0.0.1:{_closed_port()}"
    settings = _settings(endpoint, "s3://nowhere/x", tmp_path / "cache")
    fast = RetryPolicy(budget_seconds=0.3, initial_delay_seconds=0.01)
    objects = S3ObjectStore("nowhere", "x", settings, retry=fast)

    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match=endpoint) as info:
        objects.get_bytes("MANIFEST.json")
    assert re.search(r"after \d+ attempts", info.value.message)
    assert time.monotonic() - started < 2

    # Through ArtifactStore the policy comes from the settings: GENLEAK_STORE_RETRY_SECONDS bounds it.
    budgeted = _settings(endpoint, "s3://nowhere/x", tmp_path / "cache", retry_seconds=1.5)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match=r"unavailable: download of s3://nowhere/x/artifact/MANIFEST\.json"):
        ArtifactStore(budgeted).fetch("s3://nowhere/x/artifact")
    assert 1.5 <= time.monotonic() - started < 3


def test_transient_errors_are_retried(settings: StoreSettings, raw_client: Minio, bucket: str, monkeypatch) -> None:
    objects = S3ObjectStore(bucket, "retry", settings, retry=RetryPolicy(budget_seconds=5, initial_delay_seconds=0.01))
    objects.put_bytes("a.txt", b"hello")
    real_get = objects._client.get_object
    failures = iter([urllib3.exceptions.ProtocolError("connection reset")])

    def flaky_get(*args, **kwargs):
        for exc in failures:
            raise exc
        return real_get(*args, **kwargs)

    monkeypatch.setattr(objects._client, "get_object", flaky_get)
    assert objects.get_bytes("a.txt") == b"hello"
    assert objects.uri("a.txt") == f"s3://{bucket}/retry/a.txt"
