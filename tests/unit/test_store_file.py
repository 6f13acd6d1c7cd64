"""Artifact store on file:// : publish/fetch, manifest-last commit, immutability, integrity."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from genleak.core.errors import ArtifactNotFound, IntegrityError, InvalidSpec
from genleak.core.hashing import sha256_bytes
from genleak.core.settings import StoreSettings
from genleak.core.store import MANIFEST_NAME, ArtifactRef, ArtifactStore, Manifest, open_store
from genleak.core.store.file_store import FileObjectStore


@pytest.fixture()
def store(tmp_path: Path) -> ArtifactStore:
    settings = StoreSettings(root=f"file://{tmp_path / 'store'}", cache_dir=tmp_path / "cache")
    return ArtifactStore(settings)


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "nested" / "deeper").mkdir(parents=True)
    (src / "config.json").write_text(json.dumps({"hidden_size": 8}))
    (src / "nested" / "weights.bin").write_bytes(bytes(range(256)) * 100)
    (src / "nested" / "deeper" / "notes.txt").write_text("hello")
    (src / "empty.txt").write_bytes(b"")
    return src


def _relative_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_publish_then_fetch_round_trips_nested_folder(store: ArtifactStore, folder: Path) -> None:
    uri = store.uri_for("artifacts", "generation", "abc123")
    ref = store.publish(folder, uri, kind="generation", meta={"spec_hash": "abc123"})

    assert ref.kind == "generation" and ref.uri.startswith("file:///")
    fetched = store.fetch(ref)
    files = _relative_files(fetched)
    assert files.pop(MANIFEST_NAME)
    assert files == _relative_files(folder)
    # file:// is verified in place, not copied into the cache.
    assert fetched == Path(ref.uri.removeprefix("file://"))
    assert not (Path(store.settings.cache_dir)).exists()


def test_manifest_lists_every_file_and_its_hash_is_the_identity(store: ArtifactStore, folder: Path) -> None:
    ref = store.publish(folder, store.uri_for("a", "b"), kind="generation", meta={"inputs": ["x"]})
    manifest = store.manifest(ref.uri)

    assert manifest.format == "genleak.manifest/v1"
    paths = [f.path for f in manifest.files]
    assert paths == ["config.json", "empty.txt", "nested/deeper/notes.txt", "nested/weights.bin"]
    assert manifest.meta == {"inputs": ["x"]}
    assert manifest.sha256 == ref.sha256 == store.lookup(ref.uri).sha256
    raw = (Path(ref.uri.removeprefix("file://")) / MANIFEST_NAME).read_bytes()
    assert sha256_bytes(raw) == ref.sha256 and Manifest.from_bytes(raw, ref.uri) == manifest


def test_publish_writes_manifest_after_all_files(store: ArtifactStore, folder: Path, monkeypatch) -> None:
    order: list[str] = []
    put_file, put_bytes = FileObjectStore.put_file, FileObjectStore.put_bytes
    monkeypatch.setattr(FileObjectStore, "put_file", lambda self, k, s: (order.append(k), put_file(self, k, s))[1])
    monkeypatch.setattr(FileObjectStore, "put_bytes", lambda self, k, d: (order.append(k), put_bytes(self, k, d))[1])

    store.publish(folder, store.uri_for("x"), kind="k")

    assert order[-1] == MANIFEST_NAME and len(order) == 5


def test_crash_before_manifest_leaves_no_artifact(store: ArtifactStore, folder: Path, monkeypatch) -> None:
    uri = store.uri_for("crashed")

    def crash(self, key, data):
        raise KeyboardInterrupt("power cut before the manifest")

    monkeypatch.setattr(FileObjectStore, "put_bytes", crash)
    with pytest.raises(KeyboardInterrupt):
        store.publish(folder, uri, kind="k")
    monkeypatch.undo()

    assert (Path(uri.removeprefix("file://")) / "config.json").exists()  # data files were written...
    assert store.lookup(uri) is None  # ...but without a manifest the artifact does not exist
    with pytest.raises(ArtifactNotFound, match="crashed"):
        store.fetch(uri)
    # A retry after the crash completes the artifact.
    assert store.fetch(store.publish(folder, uri, kind="k")).is_dir()


def test_second_publish_returns_existing_ref_without_overwriting(store: ArtifactStore, folder: Path, caplog) -> None:
    uri = store.uri_for("immutable")
    first = store.publish(folder, uri, kind="k")
    again = store.publish(folder, uri, kind="k")
    assert again == first

    (folder / "config.json").write_text('{"hidden_size": 999}')
    with caplog.at_level(logging.WARNING, logger="genleak.core.store.artifacts"):
        different = store.publish(folder, uri, kind="k")
    assert different == first
    assert "different contents" in caplog.text
    assert json.loads(store.open_text(uri, "config.json")) == {"hidden_size": 8}


def test_corrupted_file_is_detected(store: ArtifactStore, folder: Path) -> None:
    ref = store.publish(folder, store.uri_for("corrupt"), kind="k")
    target = Path(ref.uri.removeprefix("file://")) / "nested" / "weights.bin"
    data = bytearray(target.read_bytes())
    data[10] ^= 0xFF  # same size, different content
    target.write_bytes(bytes(data))

    with pytest.raises(IntegrityError, match=r"nested/weights\.bin.*corrupt"):
        store.fetch(ref)
    with pytest.raises(IntegrityError, match="weights.bin"):
        store.read_bytes(ref.uri, "nested/weights.bin")


def test_truncated_or_deleted_file_is_detected(store: ArtifactStore, folder: Path) -> None:
    ref = store.publish(folder, store.uri_for("truncated"), kind="k")
    base = Path(ref.uri.removeprefix("file://"))
    (base / "nested" / "deeper" / "notes.txt").write_text("hel")
    with pytest.raises(IntegrityError, match="3 bytes"):
        store.fetch(ref)
    (base / "nested" / "deeper" / "notes.txt").unlink()
    with pytest.raises(IntegrityError, match="missing"):
        store.fetch(ref)


def test_expected_hash_mismatch_is_refused(store: ArtifactStore, folder: Path) -> None:
    ref = store.publish(folder, store.uri_for("pinned"), kind="k")
    assert store.fetch(ref.uri, expected_sha256=ref.sha256).is_dir()
    with pytest.raises(IntegrityError, match="expected"):
        store.fetch(ref.uri, expected_sha256="0" * 64)
    with pytest.raises(IntegrityError):
        store.fetch(ArtifactRef(uri=ref.uri, sha256="f" * 64, kind="k"))


def test_missing_uri_raises_not_found_naming_it(store: ArtifactStore) -> None:
    uri = store.uri_for("does", "not", "exist")
    assert store.lookup(uri) is None
    with pytest.raises(ArtifactNotFound) as info:
        store.fetch(uri)
    assert uri in info.value.message
    with pytest.raises(ArtifactNotFound, match="exist"):
        store.manifest(uri)


def test_object_store_missing_key_names_the_uri(tmp_path: Path) -> None:
    objects = FileObjectStore(tmp_path)
    with pytest.raises(ArtifactNotFound, match=f"file://{tmp_path}/nope/x.bin"):
        objects.get_file("nope/x.bin", tmp_path / "out.bin")
    with pytest.raises(ArtifactNotFound):
        objects.get_bytes("nope")


@pytest.mark.parametrize("key", ["../outside", "a/../../b", "/etc/passwd", "", ".", "a\\..\\b"])
def test_keys_escaping_the_root_are_rejected(tmp_path: Path, key: str) -> None:
    objects = FileObjectStore(tmp_path / "root")
    with pytest.raises(InvalidSpec):
        objects.put_bytes(key, b"x")
    assert not (tmp_path / "outside").exists()


def test_uri_for_rejects_escaping_parts(store: ArtifactStore) -> None:
    with pytest.raises(InvalidSpec):
        store.uri_for("artifacts", "..", "..", "etc")


def test_file_object_store_basics(tmp_path: Path) -> None:
    objects = FileObjectStore(tmp_path)
    objects.put_bytes("a/b/c.txt", b"abc")
    src = tmp_path / "src.bin"
    src.write_bytes(b"\x00" * 10)
    objects.put_file("a/d.bin", src)
    objects.put_file("ab/e.bin", src)

    assert objects.exists("a/b/c.txt") and not objects.exists("a/b/zzz")
    assert objects.list("a") == ["a/b/c.txt", "a/d.bin"]  # "a" must not match "ab/"
    assert objects.get_bytes("a/b/c.txt") == b"abc"
    objects.get_file("a/d.bin", tmp_path / "out" / "d.bin")
    assert (tmp_path / "out" / "d.bin").read_bytes() == b"\x00" * 10
    assert objects.uri("a/d.bin") == f"file://{tmp_path}/a/d.bin"
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".genleak-tmp-")]


def test_unknown_scheme_lists_valid_ones(store: ArtifactStore) -> None:
    with pytest.raises(InvalidSpec) as info:
        open_store("gs://bucket/x", store.settings)
    assert "file://" in info.value.message and "s3://" in info.value.message
    with pytest.raises(InvalidSpec):
        open_store("relative/path", store.settings)
    with pytest.raises(InvalidSpec):
        open_store("file://relative/path", store.settings)
    with pytest.raises(InvalidSpec, match="bucket"):
        open_store("s3:///no-bucket", store.settings)
    with pytest.raises(InvalidSpec, match="bucket"):
        open_store("s3://b/too-short-bucket-name", store.settings)
    with pytest.raises(InvalidSpec, match="s3_endpoint"):
        open_store("s3://bucket/x", store.settings.model_copy(update={"s3_endpoint": "http://host:9000"}))


def test_plain_absolute_path_is_a_file_store(store: ArtifactStore, folder: Path, tmp_path: Path) -> None:
    ref = store.publish(folder, str(tmp_path / "plain"), kind="k")
    assert ref.uri == f"file://{tmp_path}/plain"
    assert store.lookup(str(tmp_path / "plain")) == ref


def test_publish_file_and_small_file_helpers(store: ArtifactStore, tmp_path: Path) -> None:
    src = tmp_path / "report.json"
    src.write_text(json.dumps({"auc": 0.73}))
    ref = store.publish_file(src, store.uri_for("reports", "r1"), kind="report", meta={"spec_hash": "h"})

    assert store.read_json(ref.uri, "report.json") == {"auc": 0.73}
    assert [f.path for f in store.manifest(ref.uri).files] == ["report.json"]
    with pytest.raises(ArtifactNotFound, match="other.json"):
        store.read_bytes(ref.uri, "other.json")


def test_reserved_manifest_name_and_bad_meta_are_rejected(store: ArtifactStore, folder: Path) -> None:
    with pytest.raises(InvalidSpec, match="meta"):
        store.publish(folder, store.uri_for("m1"), kind="k", meta={"x": object()})
    with pytest.raises(InvalidSpec, match="kind"):
        store.publish(folder, store.uri_for("m1"), kind="", meta={})
    assert not Path(store.uri_for("m1").removeprefix("file://")).exists()  # refused before any upload
    (folder / MANIFEST_NAME).write_text("{}")
    with pytest.raises(InvalidSpec, match="reserved"):
        store.publish(folder, store.uri_for("m2"), kind="k")


def test_malformed_manifest_with_escaping_path_is_refused(store: ArtifactStore, tmp_path: Path) -> None:
    base = tmp_path / "evil"
    base.mkdir()
    evil = {"format": "genleak.manifest/v1", "kind": "k", "created_at": "now", "meta": {},
            "files": [{"path": "../../etc/passwd", "size": 1, "sha256": "0" * 64}]}
    (base / MANIFEST_NAME).write_text(json.dumps(evil))
    with pytest.raises(IntegrityError, match="malformed"):
        store.fetch(str(base))
