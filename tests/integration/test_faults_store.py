"""Faults in the artifact store (issue 8): the S3 endpoint stopped for a while, a full disk, an artifact
over the size limit, corrupted bytes. The store retries an outage with backoff within
GENLEAK_STORE_RETRY_SECONDS and then says UNAVAILABLE; a full disk is RESOURCE_EXHAUSTED; corrupted
bytes are DATA_LOSS and never reach training; and at no point is a half-written artifact visible.

The S3 endpoint is a real moto server behind a TCP front (`Endpoint`) that is stopped the way a crashed
S3 server stops: listening socket closed, every open connection cut mid-request, the same port
listening again on restart (objects survive, as on a real S3 outage). A plain moto stop would not do:
werkzeug keeps answering on open keep-alive connections and keeps the port bound.
"""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Self

import pytest
from minio import Minio

from genleak.core.datasets import publish_records
from genleak.core.errors import ArtifactNotFound, IntegrityError, ResourceExhausted, StoreUnavailable
from genleak.core.settings import Settings, StoreSettings
from genleak.core.store import MANIFEST_NAME, ArtifactStore
from genleak.core.store.objects import TEMP_PREFIX

moto_server = pytest.importorskip("moto.server")

ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024


# ---- the S3 endpoint that can be stopped


class Endpoint:
    """TCP front of the moto server: the endpoint the store is configured with. `down()` closes the
    listener and cuts every open connection; `up()` listens on the same port again. `cut_after_put(n,
    outage_s)` goes down once `n` request bytes have gone out after the next PUT request line (so mid-
    upload), and comes back after `outage_s` (never when None)."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._armed: dict | None = None
        self.events: list[tuple[str, float]] = []  # ("down"|"up", monotonic time)
        self.on_down: list = []  # callbacks run (in a thread) right after a cut

    @property
    def is_up(self) -> bool:
        return self._listener is not None

    def up(self) -> None:
        with self._lock:
            if self._listener is not None:
                return
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self.port))
            sock.listen(128)
            self._listener = sock
            self.events.append(("up", time.monotonic()))
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    def down(self) -> None:
        with self._lock:
            sock, self._listener = self._listener, None
            conns, self._conns = self._conns, set()
            if sock is None:
                return
            self.events.append(("down", time.monotonic()))
        _close(sock)
        for conn in conns:
            _close(conn)

    def cut_after_put(self, nbytes: int, outage_s: float | None) -> None:
        with self._lock:
            self._armed = {"after": nbytes, "seen": None, "outage_s": outage_s}

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:  # went down meanwhile
                    _close(client), _close(server)
                    return
                self._conns.update((client, server))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, outgoing: bool) -> None:
        try:
            while True:
                data = src.recv(1 << 16)
                if not data or (outgoing and self._should_cut(data)):
                    break
                dst.sendall(data)
        except OSError:
            pass
        _close(src), _close(dst)

    def _should_cut(self, data: bytes) -> bool:
        with self._lock:
            armed = self._armed
            if armed is None:
                return False
            if armed["seen"] is None:
                if not data.startswith(b"PUT "):
                    return False
                armed["seen"] = 0
            armed["seen"] += len(data)
            if armed["seen"] < armed["after"]:
                return False
            self._armed = None
        self.down()
        for callback in self.on_down:
            threading.Thread(target=callback, daemon=True).start()
        if armed["outage_s"] is not None:
            self.up_after(armed["outage_s"])
        return True

    def up_after(self, seconds: float) -> None:
        timer = threading.Timer(seconds, self.up)
        timer.daemon = True
        timer.start()

    def outage_seconds(self) -> float:
        downs = [t for e, t in self.events if e == "down"]
        ups = [t for e, t in self.events if e == "up" and downs and t > downs[0]]
        return (ups[0] if ups else time.monotonic()) - downs[0] if downs else 0.0


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv/accept; the peer sees the cut
    except OSError:
        pass
    sock.close()


@pytest.fixture(scope="module")
def moto_address() -> tuple[str, int]:
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    yield server.get_host_and_port()
    server.stop()


@pytest.fixture()
def endpoint(moto_address) -> Endpoint:
    front = Endpoint(moto_address)
    front.up()
    yield front
    front.down()


@pytest.fixture()
def bucket() -> str:
    return f"faults-{uuid.uuid4().hex[:12]}"


@pytest.fixture()
def backend(moto_address, bucket) -> Minio:
    """A client straight to moto, past the endpoint: sees the stored objects while the endpoint is down."""
    client = Minio(f"{moto_address[0]}:{moto_address[1]}", access_key="testing", secret_key="testing",
                   secure=False, region="us-east-1")
    yield client
    if client.bucket_exists(bucket):  # moto keeps objects in RAM
        for obj in client.list_objects(bucket, recursive=True):
            client.remove_object(bucket, obj.object_name)
        client.remove_bucket(bucket)


def _s3_settings(endpoint: Endpoint, bucket: str, cache: Path, retry_seconds: float) -> StoreSettings:
    return StoreSettings(root=f"s3://{bucket}/genleak", cache_dir=cache, s3_endpoint=endpoint.address,
                         s3_access_key="testing", s3_secret_key="testing", s3_secure=False,
                         s3_part_size=5 * MiB, retry_seconds=retry_seconds)


@pytest.fixture()
def checkpoint(tmp_path: Path) -> Path:
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    (folder / "model.safetensors").write_bytes(os.urandom(12 * MiB + 5))  # 3 parts of 5 MiB
    (folder / "tokenizer.json").write_text(json.dumps({"vocab": {f"t{i}": i for i in range(300)}}))
    return folder


class ManifestWatcher:
    """Lists the bucket straight on moto every few ms and checks every MANIFEST.json it sees: all the
    files it lists must already be there, whole. Proves a half-written artifact is never visible."""

    def __init__(self, client: Minio, bucket: str):
        self.client, self.bucket = client, bucket
        self.listings = 0
        self.manifests_seen: set[str] = set()
        self.violations: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._check()  # the final state too

    def _run(self) -> None:
        while not self._stop.is_set():
            self._check()
            time.sleep(0.01)

    def _check(self) -> None:
        try:
            if not self.client.bucket_exists(self.bucket):
                return
            objects = {o.object_name: o.size for o in self.client.list_objects(self.bucket, recursive=True)}
        except Exception:  # noqa: BLE001 - moto busy; next round
            return
        self.listings += 1
        for name in objects:
            if not name.endswith("/" + MANIFEST_NAME):
                continue
            self.manifests_seen.add(name)
            prefix = name[: -len(MANIFEST_NAME)]
            manifest = json.loads(self.client.get_object(self.bucket, name).read())
            for entry in manifest["files"]:
                if objects.get(prefix + entry["path"]) != entry["size"]:
                    self.violations.append(f"{name} visible before {entry['path']} was complete")


def _keys(client: Minio, bucket: str) -> list[str]:
    return sorted(o.object_name for o in client.list_objects(bucket, recursive=True))


def _retries(caplog) -> int:
    return sum("retry" in r.getMessage() and r.name.endswith("s3_store") for r in caplog.records)


# ---- 1. S3 outage


def test_endpoint_stopped_mid_upload_and_back_within_budget_completes_the_artifact(
        endpoint, backend, bucket, checkpoint, tmp_path, caplog, robustness_tally):
    caplog.set_level(logging.WARNING, logger="genleak.core.store.s3_store")
    store = ArtifactStore(_s3_settings(endpoint, bucket, tmp_path / "cache", retry_seconds=20))
    uri = store.uri_for("artifacts", "finetune", "outage")
    store.publish_file(checkpoint / "config.json", store.uri_for("warm"), kind="x")  # bucket exists
    # While it is down, another reader gets a clear UNAVAILABLE, not "absent" and not a partial artifact.
    reader = ArtifactStore(_s3_settings(endpoint, bucket, tmp_path / "cache-reader", retry_seconds=0.5))
    seen_by_reader: list[BaseException | object] = []

    def read_while_down() -> None:
        try:
            seen_by_reader.append(reader.lookup(uri))
        except StoreUnavailable as exc:
            seen_by_reader.append(exc)

    endpoint.on_down.append(read_while_down)
    endpoint.cut_after_put(7 * MiB, outage_s=2.0)  # mid-way through the 12 MiB weights (second part)

    started = time.monotonic()
    with ManifestWatcher(backend, bucket) as watcher:
        ref = store.publish(checkpoint, uri, kind="checkpoint")
    took = time.monotonic() - started

    assert [e for e, _ in endpoint.events] == ["up", "down", "up"], "the cut did not happen mid-publish"
    assert 2.0 <= took < 20
    assert _retries(caplog) >= 1
    assert watcher.violations == [] and watcher.listings > 5
    assert len(seen_by_reader) == 1 and isinstance(seen_by_reader[0], StoreUnavailable)
    assert "unavailable" in seen_by_reader[0].message and endpoint.address in seen_by_reader[0].message
    fetched = ArtifactStore(_s3_settings(endpoint, bucket, tmp_path / "cache2", retry_seconds=5)).fetch(ref)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        assert (fetched / name).read_bytes() == (checkpoint / name).read_bytes()
    robustness_tally.count("faults: S3 endpoint down mid-upload, back in 2 s", "retried, artifact complete")
    robustness_tally.figure("fault: S3 outage mid-publish",
                            f"endpoint cut 7 MiB into a 12 MiB upload, down {endpoint.outage_seconds():.1f}s; "
                            f"publish done in {took:.1f}s after {_retries(caplog)} retries (budget 20s); "
                            f"{watcher.listings} listings meanwhile, no MANIFEST before its files")


def test_endpoint_stopped_before_a_fetch_and_back_within_budget(endpoint, backend, bucket, checkpoint, tmp_path,
                                                                 caplog, robustness_tally):
    caplog.set_level(logging.WARNING, logger="genleak.core.store.s3_store")
    store = ArtifactStore(_s3_settings(endpoint, bucket, tmp_path / "cache", retry_seconds=20))
    ref = store.publish(checkpoint, store.uri_for("artifacts", "fetch-outage"), kind="checkpoint")
    endpoint.down()
    endpoint.up_after(1.5)

    started = time.monotonic()
    fetched = store.fetch(ref)
    took = time.monotonic() - started

    assert 1.5 <= took < 10 and _retries(caplog) >= 1
    assert (fetched / "model.safetensors").read_bytes() == (checkpoint / "model.safetensors").read_bytes()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [ref.sha256]  # no staging dir left
    robustness_tally.count("faults: S3 endpoint down before a fetch, back in 1.5 s", "retried, verified")
    robustness_tally.figure("fault: S3 outage before fetch",
                            f"fetch waited out a 1.5s outage: {took:.1f}s, {_retries(caplog)} retries")


def test_endpoint_that_stays_down_is_unavailable_within_budget_and_nothing_half_written_shows(
        endpoint, backend, bucket, checkpoint, tmp_path, robustness_tally):
    budget = 2.0
    store = ArtifactStore(_s3_settings(endpoint, bucket, tmp_path / "cache", retry_seconds=budget))
    uri = store.uri_for("artifacts", "finetune", "lost")
    store.publish_file(checkpoint / "config.json", store.uri_for("warm"), kind="x")
    endpoint.cut_after_put(7 * MiB, outage_s=None)

    started = time.monotonic()
    with ManifestWatcher(backend, bucket) as watcher, pytest.raises(StoreUnavailable) as info:
        store.publish(checkpoint, uri, kind="checkpoint")
    took = time.monotonic() - started
    message = info.value.message
    assert info.value.code == "UNAVAILABLE"
    assert endpoint.address in message and "upload of s3://" in message and "model.safetensors" in message
    assert "GENLEAK_STORE_RETRY_SECONDS" in message
    assert budget <= took < budget + 3

    # Nothing of it is an artifact: some files may be stored, but no manifest, so readers see nothing.
    keys = _keys(backend, bucket)
    assert "genleak/artifacts/finetune/lost/MANIFEST.json" not in keys and watcher.violations == []
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match=r"download of s3://.*/lost/MANIFEST\.json"):
        store.fetch(uri)  # still down: a clear error, never "not found" nor a partial folder
    fetch_took = time.monotonic() - started
    assert budget <= fetch_took < budget + 3
    endpoint.up()
    assert store.lookup(uri) is None
    with pytest.raises(ArtifactNotFound, match="never completed"):
        store.fetch(uri)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
    # Publishing again once the endpoint is back completes it.
    assert store.fetch(store.publish(checkpoint, uri, kind="checkpoint")).is_dir()
    robustness_tally.count("faults: S3 endpoint stays down", "UNAVAILABLE within the budget, no manifest")
    robustness_tally.figure("fault: S3 endpoint stays down",
                            f"budget {budget:g}s: publish gave up after {took:.1f}s, fetch after "
                            f"{fetch_took:.1f}s, both UNAVAILABLE naming {endpoint.address}; stored then: "
                            f"{len(keys)} keys, no MANIFEST of the lost artifact")


# ---- 2. disk full, too large


class FullDisk:
    """Stands in for os.fdopen: files opened under `under` fail with ENOSPC once `room` bytes were
    written to them (each write up to the limit lands, as on a real disk filling up mid-file)."""

    def __init__(self, under: Path, room: int):
        self.under, self.room, self.hits = str(under), room, 0
        self._real = os.fdopen

    def __call__(self, fd, *args, **kwargs):
        handle = self._real(fd, *args, **kwargs)
        if os.readlink(f"/proc/self/fd/{fd}").startswith(self.under):
            return _Filling(handle, self)
        return handle


class _Filling:
    def __init__(self, handle, disk: FullDisk):
        self._handle, self._disk, self._written = handle, disk, 0

    def write(self, data) -> int:
        room = self._disk.room - self._written
        if len(data) > room:
            self._handle.write(data[:max(room, 0)])
            self._disk.hits += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._written += len(data)
        return self._handle.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._handle.close()

    def __getattr__(self, name):
        return getattr(self._handle, name)


def _leftovers(root: Path) -> list[str]:
    """Temp files and folders (the only things a failed write may have created) under `root`."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.name.startswith(TEMP_PREFIX))


def test_disk_full_while_publishing_is_resource_exhausted_and_leaves_nothing(checkpoint, tmp_path, monkeypatch,
                                                                           robustness_tally):
    store_root = tmp_path / "store"
    store = ArtifactStore(StoreSettings(root=f"file://{store_root}", cache_dir=tmp_path / "cache"))
    uri = store.uri_for("artifacts", "finetune", "full")
    disk = FullDisk(store_root, room=3 * MiB)  # room for the small files, not the 12 MiB weights
    monkeypatch.setattr(os, "fdopen", disk)

    with pytest.raises(ResourceExhausted) as info:
        store.publish(checkpoint, uri, kind="checkpoint")
    assert info.value.code == "RESOURCE_EXHAUSTED" and disk.hits == 1
    assert "no space left on device" in info.value.message and "model.safetensors" in info.value.message
    assert _leftovers(store_root) == []  # the partly written temp file is gone: its space is free again
    assert store.lookup(uri) is None
    with pytest.raises(ArtifactNotFound):
        store.fetch(uri)

    monkeypatch.setattr(os, "fdopen", disk._real)  # space freed: the same publish now completes
    assert (store.fetch(store.publish(checkpoint, uri, kind="checkpoint")) / "model.safetensors").stat().st_size \
        == 12 * MiB + 5
    robustness_tally.count("faults: disk full", "RESOURCE_EXHAUSTED, no temp file, no manifest")
    robustness_tally.figure("fault: disk full", "ENOSPC 3 MiB into a 12 MiB file: RESOURCE_EXHAUSTED \""
                            + info.value.message.replace(str(store_root), "<store>") + "\"; no temp file left")


def test_disk_full_while_caching_a_download_is_resource_exhausted(endpoint, backend, bucket, checkpoint, tmp_path,
                                                                monkeypatch, robustness_tally):
    cache = tmp_path / "cache"
    store = ArtifactStore(_s3_settings(endpoint, bucket, cache, retry_seconds=5))
    ref = store.publish(checkpoint, store.uri_for("artifacts", "to-cache"), kind="checkpoint")
    disk = FullDisk(cache, room=2 * MiB)
    monkeypatch.setattr(os, "fdopen", disk)

    with pytest.raises(ResourceExhausted, match="no space left on device") as info:
        store.fetch(ref)
    assert disk.hits == 1 and "model.safetensors" in info.value.message
    assert list(cache.iterdir()) == []  # neither the staging dir nor a cache entry

    monkeypatch.setattr(os, "fdopen", disk._real)
    assert (store.fetch(ref) / "model.safetensors").read_bytes() == (checkpoint / "model.safetensors").read_bytes()
    robustness_tally.count("faults: disk full", "RESOURCE_EXHAUSTED, no temp file, no manifest")


def test_file_size_limit_of_the_process_is_resource_exhausted(tmp_path, robustness_tally):
    """A real kernel error, not a stand-in: RLIMIT_FSIZE makes writes past 1 MiB fail with EFBIG."""
    script = f"""
import json, os, resource, signal, sys
sys.path.insert(0, {str(ROOT / 'services')!r})
from genleak.core.errors import GenleakError
from genleak.core.settings import StoreSettings
from genleak.core.store import ArtifactStore
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
src = {str(tmp_path / 'weights.bin')!r}
with open(src, "wb") as fh:
    fh.write(os.urandom(3 << 20))
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
store = ArtifactStore(StoreSettings(root="file://{tmp_path / 'store'}", cache_dir={str(tmp_path / 'cache')!r}))
try:
    store.publish_file(src, store.uri_for("big"), kind="x")
    print(json.dumps({{"code": "OK"}}))
except GenleakError as exc:
    print(json.dumps({{"code": exc.code, "message": exc.message}}))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT,
                         check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["code"] == "RESOURCE_EXHAUSTED" and "file too large" in result["message"], result
    assert _leftovers(tmp_path / "store") == []
    assert not list((tmp_path / "store").rglob(MANIFEST_NAME))
    robustness_tally.count("faults: file size limit (EFBIG, RLIMIT_FSIZE)", "RESOURCE_EXHAUSTED, no temp file")


def test_artifact_over_the_configured_limit_is_refused_before_writing(checkpoint, tmp_path, robustness_tally):
    store_root = tmp_path / "store"
    store = ArtifactStore(StoreSettings(root=f"file://{store_root}", cache_dir=tmp_path / "cache",
                                        max_artifact_bytes=10 * MiB))
    with pytest.raises(ResourceExhausted, match=r"over the store's limit of 10485760 bytes.*MAX_ARTIFACT_BYTES"):
        store.publish(checkpoint, store.uri_for("too", "big"), kind="checkpoint")
    assert not store_root.exists()  # refused before a single byte
    small = store.publish_file(checkpoint / "config.json", store.uri_for("small"), kind="x")
    assert store.lookup(small.uri) == small
    robustness_tally.count("faults: artifact over GENLEAK_MAX_ARTIFACT_BYTES", "RESOURCE_EXHAUSTED before writing")


def test_object_over_the_s3_size_limit_is_refused_before_any_request(tmp_path, robustness_tally):
    from genleak.core.store.s3_store import S3ObjectStore

    huge = tmp_path / "huge.safetensors"
    try:
        with huge.open("wb") as fh:
            os.truncate(fh.fileno(), 5 * 1024**4 + 1)  # sparse: no disk used
    except OSError as exc:
        pytest.skip(f"filesystem cannot hold a sparse 5 TiB file: {exc}")
    settings = StoreSettings(s3_endpoint="127.0.0.1:9", s3_secure=False, retry_seconds=30)  # nothing listens
    started = time.monotonic()
    with pytest.raises(ResourceExhausted, match="over the S3 object size limit"):
        S3ObjectStore("bucket", "x", settings).put_file("huge.safetensors", huge)
    assert time.monotonic() - started < 1  # no connection attempted, no retries
    robustness_tally.count("faults: object over S3's 5 TiB", "RESOURCE_EXHAUSTED before any request")


# ---- 3. corrupted artifacts, and outages seen through a service (finetuner over gRPC, S3 store)

SERVICE_STORE_BUDGET = 4.0  # GENLEAK_STORE_RETRY_SECONDS of the in-process finetuner


@pytest.fixture(scope="module")
def svc(moto_address, tmp_path_factory):
    from genleak.app import build_service
    from genleak.engines.probe_model import build_tiny_model
    from genleak.rpc.channels import open_channel
    from genleak.rpc.server import start_server
    from genleak.v1 import finetuner_pb2_grpc

    root = tmp_path_factory.mktemp("faults-svc")
    front = Endpoint(moto_address)
    front.up()
    bucket = f"faults-svc-{uuid.uuid4().hex[:8]}"
    settings = Settings(store=_s3_settings(front, bucket, root / "svc-cache", retry_seconds=SERVICE_STORE_BUDGET))
    server = start_server([build_service("finetuner", settings, ArtifactStore(settings.store))])
    client = ArtifactStore(settings.store.model_copy(update={"cache_dir": root / "client-cache"}))
    model = client.publish(build_tiny_model(root / "model", arch="gpt_neox"), client.uri_for("models", "tiny"),
                           kind="model")
    dataset = publish_records(client, [{"prompt": f"From: Jane Doe {i}", "continuation": " gas deal"}
                                       for i in range(8)], client.uri_for("inputs", "train"))
    raw = Minio(f"{moto_address[0]}:{moto_address[1]}", access_key="testing", secret_key="testing", secure=False)
    yield {"endpoint": front, "bucket": bucket, "settings": settings, "client": client, "model": model,
           "dataset": dataset, "raw": raw, "root": root,
           "stub": finetuner_pb2_grpc.FinetunerServiceStub(open_channel(server.address))}
    server.stop(grace=0.5)
    front.down()


def _finetune_request(svc, seed: int):
    from genleak.v1 import common_pb2, finetuner_pb2

    request = finetuner_pb2.StartFineTuneRequest(
        model=common_pb2.ModelRef(uri=svc["model"].uri), dataset=common_pb2.ArtifactRef(uri=svc["dataset"].uri))
    request.params.update({"method": "lora", "method_config": {"r": 2, "lora_alpha": 4},
                           "train": {"epochs": 1, "learning_rate": 1e-3, "batch_size": 4, "seed": seed},
                           "data": {"format": "prompt_continuation"}})
    return request


def _key(svc, ref, name: str) -> str:
    return ref.uri.removeprefix(f"s3://{svc['bucket']}/") + "/" + name


class _Flipped:
    """Flip one byte of a stored object in the middle (straight on moto, as bit rot or tampering would),
    and put the original back on exit."""

    def __init__(self, svc, key: str):
        self.raw, self.bucket, self.key = svc["raw"], svc["bucket"], key

    def __enter__(self) -> Self:
        self.original = self.raw.get_object(self.bucket, self.key).read()
        middle = len(self.original) // 2
        bad = self.original[:middle] + bytes([self.original[middle] ^ 0x01]) + self.original[middle + 1:]
        self.raw.put_object(self.bucket, self.key, io.BytesIO(bad), len(bad))
        return self

    def __exit__(self, *exc) -> None:
        self.raw.put_object(self.bucket, self.key, io.BytesIO(self.original), len(self.original))


def _job_outputs(svc) -> list[str]:
    return [k for k in _keys(svc["raw"], svc["bucket"]) if "/jobs/" in k or "/epoch-" in k]


@pytest.mark.parametrize("what", ["dataset", "model"])
def test_corrupted_input_is_data_loss_and_never_trained_on(svc, what, tmp_path, robustness_tally):
    from genleak.rpc.channels import RemoteJobError, wait_for_job

    ref, name = (svc["dataset"], "data.jsonl") if what == "dataset" else (svc["model"], "model.safetensors")
    stub, seed = svc["stub"], 100 + (what == "model")
    with _Flipped(svc, _key(svc, ref, name)):
        fresh = ArtifactStore(svc["settings"].store.model_copy(update={"cache_dir": tmp_path / "cache"}))
        with pytest.raises(IntegrityError, match=name) as info:
            fresh.fetch(ref)
        assert info.value.code == "DATA_LOSS" and not any((tmp_path / "cache").iterdir())

        stages: list[str] = []
        with pytest.raises(RemoteJobError) as err:
            wait_for_job(stub, stub.StartFineTune(_finetune_request(svc, seed)),
                         lambda job: stages.append(job.progress.stage))
    assert err.value.code == "DATA_LOSS" and name in err.value.message and ref.uri in err.value.message
    assert "train" not in stages  # failed before a single optimizer step
    assert not (svc["root"] / "svc-cache" / "work" / "finetune").exists()
    assert _job_outputs(svc) == []  # no checkpoint, no job result published
    robustness_tally.count("faults: corrupted artifact (flipped byte)", f"{what}: DATA_LOSS, not trained, nothing "
                                                                       f"published")


def test_corrupted_cached_copy_is_downloaded_again_not_trained_on(svc, caplog, robustness_tally):
    from genleak.rpc.channels import wait_for_job

    caplog.set_level(logging.WARNING, logger="genleak.core.store.artifacts")
    service_view = ArtifactStore(svc["settings"].store)  # the finetuner's cache dir
    cached = service_view.fetch(svc["model"]) / "model.safetensors"
    good = cached.read_bytes()
    cached.write_bytes(good[:100] + bytes([good[100] ^ 0x01]) + good[101:])

    done = wait_for_job(svc["stub"], svc["stub"].StartFineTune(_finetune_request(svc, seed=200)))
    assert done.artifacts["epoch-1/merged"].uri
    assert cached.read_bytes() == good  # replaced by a verified download
    assert any("is damaged" in r.getMessage() and "downloading again" in r.getMessage() for r in caplog.records)
    robustness_tally.count("faults: corrupted cached copy", "detected, downloaded again, trained on the good one")


def test_store_down_for_a_while_mid_job_the_job_still_succeeds(svc, caplog, robustness_tally):
    from genleak.rpc.channels import wait_for_job

    caplog.set_level(logging.WARNING, logger="genleak.core.store.s3_store")
    endpoint, stub = svc["endpoint"], svc["stub"]
    endpoint.up()
    endpoint.cut_after_put(1, outage_s=2.0)  # at the job's first upload (its first checkpoint file)

    started = time.monotonic()
    with ManifestWatcher(svc["raw"], svc["bucket"]) as watcher:
        done = wait_for_job(stub, stub.StartFineTune(_finetune_request(svc, seed=300)))
    took = time.monotonic() - started

    assert endpoint.events[-2][0] == "down" and endpoint.events[-1][0] == "up"
    assert _retries(caplog) >= 1 and watcher.violations == []
    ref = done.artifacts["epoch-1/merged"]
    merged = svc["client"].fetch(ref.uri, expected_sha256=ref.sha256)  # complete and hash-verified
    assert (merged / "model.safetensors").is_file()
    robustness_tally.count("faults: S3 down 2 s during a fine-tune job", "job SUCCEEDED, checkpoints complete")
    robustness_tally.figure("fault: S3 outage inside a job",
                            f"fine-tune publish hit a {endpoint.outage_seconds():.1f}s outage (store budget "
                            f"{SERVICE_STORE_BUDGET:g}s): job succeeded in {took:.1f}s after {_retries(caplog)} "
                            f"store retries; {len(watcher.manifests_seen)} manifests seen, none early")


def test_store_down_past_its_budget_fails_the_job_unavailable_and_the_caller_resubmits(svc, caplog,
                                                                                       robustness_tally):
    from genleak.rpc.retry import RetryPolicy, run_job

    caplog.set_level(logging.WARNING)
    endpoint, stub = svc["endpoint"], svc["stub"]
    endpoint.up()
    outage = SERVICE_STORE_BUDGET + 3
    endpoint.cut_after_put(1, outage_s=outage)

    started = time.monotonic()
    with ManifestWatcher(svc["raw"], svc["bucket"]) as watcher:
        done = run_job(lambda: stub.StartFineTune(_finetune_request(svc, seed=400)), stub,
                       policy=RetryPolicy(budget_seconds=60, initial_delay_seconds=0.5, max_delay_seconds=2.0))
    took = time.monotonic() - started

    failures = [r.getMessage() for r in caplog.records if r.name == "genleak.rpc.retry"]
    unavailable = [m for m in failures if "failed with UNAVAILABLE" in m]
    assert unavailable, failures  # the job itself failed UNAVAILABLE once the store's budget was spent...
    assert endpoint.address in unavailable[0] and "upload of s3://" in unavailable[0]
    assert "GENLEAK_STORE_RETRY_SECONDS" in unavailable[0]
    assert took >= outage and watcher.violations == []  # ...and the resubmitted job succeeded after the outage
    ref = done.artifacts["epoch-1/merged"]
    merged = svc["client"].fetch(ref.uri, expected_sha256=ref.sha256)
    assert (merged / "model.safetensors").is_file()
    robustness_tally.count("faults: S3 down past the store budget during a job",
                           "job FAILED UNAVAILABLE, resubmitted by rpc.retry, SUCCEEDED")
    robustness_tally.figure("fault: S3 outage past the budget",
                            f"{outage:g}s outage vs {SERVICE_STORE_BUDGET:g}s store budget: job failed UNAVAILABLE, "
                            f"run_job resubmitted ({len(failures)} caller retries), succeeded after {took:.1f}s")
