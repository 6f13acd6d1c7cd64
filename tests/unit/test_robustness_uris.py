"""Artifact URIs and manifest paths cannot escape their bucket or folder (issue 8: `..`, absolute paths,
other schemes), checked on fixed cases and fuzzed with hypothesis."""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genleak.core.errors import ArtifactNotFound, GenleakError, IntegrityError, InvalidSpec
from genleak.core.settings import StoreSettings
from genleak.core.specs import ArtifactSpec, ModelSpec, parse_spec
from genleak.core.store import MANIFEST_NAME, ArtifactStore, open_store
from genleak.core.store.file_store import FileObjectStore
from genleak.core.store.manifest import Manifest
from genleak.core.store.s3_store import S3ObjectStore

FUZZ = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

ESCAPING = [
    "s3://genleak/artifacts/../../other-bucket/x",
    "s3://genleak/..",
    "s3://genleak/a/./../../b",
    "file:///STORE/../outside",
    "file:///STORE/a/../../outside",
    "/STORE/../outside",
    "/STORE/x/..",
]
FOREIGN = ["gs://bucket/x", "http://example.com/x", "https://example.com/x", "ftp://host/x", "hdfs://nn/x",
           "file:relative/x", "file://relative/x", "relative/x", "../x", "~/x", "s3:/bucket/x", "s3:///x", ""]


@pytest.fixture()
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(StoreSettings(root=f"file://{tmp_path}/store", cache_dir=tmp_path / "cache"))


def _nothing_outside(tmp_path: Path) -> None:
    assert not (tmp_path / "outside").exists()
    assert not list(tmp_path.glob("other-bucket*"))


@pytest.mark.parametrize("uri", ESCAPING)
def test_uris_with_dotdot_are_refused_for_every_operation(store, tmp_path, uri, robustness_tally):
    uri = uri.replace("/STORE", f"{tmp_path}/store")
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "data.jsonl").write_text('{"text": "x"}\n')
    for operation in (lambda: store.publish(src, uri, kind="dataset"), lambda: store.lookup(uri),
                      lambda: store.fetch(uri), lambda: store.read_bytes(uri, "data.jsonl")):
        with pytest.raises(InvalidSpec, match=r"\.\."):
            operation()
        robustness_tally.count("uri escape (fixed cases)", "refused")
    _nothing_outside(tmp_path)


@pytest.mark.parametrize("uri", FOREIGN)
def test_other_schemes_and_relative_uris_are_refused(store, uri, robustness_tally):
    with pytest.raises(InvalidSpec) as err:
        store.lookup(uri)
    assert err.value.field == "uri" and (uri == "" or repr(uri)[1:-1] in err.value.message)
    robustness_tally.count("uri escape (fixed cases)", "refused")


def test_request_specs_name_the_field_of_an_escaping_uri(robustness_tally):
    for uri in ["s3://genleak/../x", "gs://b/x", "relative/../x", "/abs/../x"]:
        with pytest.raises(InvalidSpec) as err:
            parse_spec(ArtifactSpec, {"uri": uri}, "targets")
        assert err.value.field == "targets.uri" and "Value error" not in err.value.message
        robustness_tally.count("uri escape (fixed cases)", "refused")
    with pytest.raises(InvalidSpec, match="model.uri"):
        parse_spec(ModelSpec, {"uri": "s3://genleak/a/../../b"}, "model")
    with pytest.raises(InvalidSpec, match="model.uri.*NUL"):
        parse_spec(ModelSpec, {"uri": "/models/a\x00b"}, "model")
    with pytest.raises(InvalidSpec, match="sha256"):
        parse_spec(ArtifactSpec, {"uri": "/abs/x", "sha256": "../../etc"}, "targets")
    # Legitimate forms still pass: zoo names, local folders (the service's own disk), store URIs.
    for uri in ["zoo:smollm2-135m-instruct", "models/tiny", "/abs/model", "s3://genleak/a/b", "file:///abs/x"]:
        assert parse_spec(ModelSpec, {"uri": uri}).uri == uri


# ---- fuzz: any URI built from hostile segments either is refused or stays inside its bucket/folder

SEGMENTS = st.sampled_from(["..", ".", "", "a", "b c", "%2e%2e", "..%2f", "\\..", "~", "\x00", "MANIFEST.json",
                            "x" * 300, "..\\..", "é", "\n", "con"])
SCHEMES = st.sampled_from(["file://", "FILE://", "s3://", "S3://", "", "gs://", "http://", "file:", "s3:/", "//"])


@st.composite
def hostile_uris(draw):
    scheme = draw(SCHEMES)
    segments = draw(st.lists(SEGMENTS, min_size=0, max_size=6))
    head = draw(st.sampled_from(["/tmp/genleak-fuzz-root", "genleak", "", "/"]))
    return scheme + "/".join([head, *segments])


def _inside(root: Path, key: str) -> bool:
    base = "/" + os.path.normpath(str(root)).lstrip("/")  # POSIX keeps a leading '//' as is
    return os.path.commonpath([base, os.path.normpath(os.path.join(base, key))]) == base


@FUZZ
@given(uri=st.one_of(hostile_uris(), st.text(max_size=60)))
def test_fuzzed_uris_never_escape(uri, robustness_tally):
    settings_ = StoreSettings(root="file:///tmp/genleak-fuzz-root", s3_endpoint="127.0.0.1:9")
    try:
        backend, prefix = open_store(uri, settings_)
    except InvalidSpec as exc:
        assert exc.field == "uri"
        robustness_tally.count("uri fuzz (hypothesis)", "refused")
        return
    assert ".." not in PurePosixPath(prefix).parts
    if isinstance(backend, FileObjectStore):
        # The folder is exactly the URI's path (no '..' hidden in it); keys cannot leave it.
        assert ".." not in backend.root.parts
        assert _inside(backend.root, "MANIFEST.json")
    else:
        assert isinstance(backend, S3ObjectStore)
        name = backend._object_name(f"{prefix}/MANIFEST.json" if prefix else "MANIFEST.json")
        assert ".." not in name.split("/")
        assert uri.lower().startswith("s3://") and uri[5:].split("/")[0] == backend.bucket
    robustness_tally.count("uri fuzz (hypothesis)", "accepted, stays inside")


@FUZZ
@given(path=st.one_of(st.lists(SEGMENTS, min_size=1, max_size=5).map("/".join), st.text(max_size=40)))
def test_fuzzed_manifest_paths_never_leave_the_artifact(tmp_path, path, robustness_tally):
    """A manifest read from the store is untrusted: a path that would leave the folder makes it malformed."""
    entry = {"path": path, "size": 1, "sha256": "0" * 64}
    raw = json.dumps({"format": "genleak.manifest/v1", "kind": "k", "created_at": "now", "meta": {},
                      "files": [entry]}).encode()
    try:
        manifest = Manifest.from_bytes(raw, "file:///x")
    except IntegrityError:
        robustness_tally.count("manifest path fuzz (hypothesis)", "refused")
        return
    folder = tmp_path / "artifact"
    assert _inside(folder, manifest.files[0].path) and manifest.files[0].path != MANIFEST_NAME
    robustness_tally.count("manifest path fuzz (hypothesis)", "accepted, stays inside")


def test_fetching_an_artifact_with_a_hostile_manifest_writes_nothing_outside(tmp_path, robustness_tally):
    """Through the cache path (as for S3): the hostile entry is refused before any file is written."""
    root = tmp_path / "store"
    store = ArtifactStore(StoreSettings(root=f"file://{root}", cache_dir=tmp_path / "cache"))
    for evil in ["../../outside", "/etc/passwd", "a/../../outside", "..\\outside", "MANIFEST.json"]:
        folder = root / "evil"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MANIFEST_NAME).write_text(json.dumps(
            {"format": "genleak.manifest/v1", "kind": "k", "created_at": "now", "meta": {},
             "files": [{"path": evil, "size": 1, "sha256": "0" * 64}]}))
        with pytest.raises(IntegrityError, match="malformed"):
            store.fetch(f"file://{folder}")
        with pytest.raises(GenleakError):
            store.read_bytes(f"file://{folder}", evil)
        robustness_tally.count("uri escape (fixed cases)", "refused")
    assert not (tmp_path / "outside").exists()
    with pytest.raises(ArtifactNotFound):
        store.fetch(f"file://{root}/nothing")
