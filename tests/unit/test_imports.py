"""Local dataset files -> dataset artifacts (genleak data import; local paths in specs)."""

from __future__ import annotations

import json

import pytest
import yaml

from genleak.cli.run import upload_local_datasets
from genleak.core.datasets import load_records
from genleak.core.errors import InvalidSpec
from genleak.core.dataset_import import import_dataset_file
from genleak.core.settings import StoreSettings
from genleak.core.store import ArtifactStore


@pytest.fixture
def store(tmp_path):
    return ArtifactStore(StoreSettings(root=f"file://{tmp_path}/store", cache_dir=tmp_path / "cache"))


def test_jsonl_and_json_files_import_once_by_content(store, tmp_path):
    members = tmp_path / "members.jsonl"
    members.write_text('{"text": "a member"}\n\n{"text": "another"}\n')
    ref = import_dataset_file(store, members)
    assert [r["text"] for r in load_records(store, ref)] == ["a member", "another"]
    assert import_dataset_file(store, members).sha256 == ref.sha256  # same bytes, same artifact
    seeds = tmp_path / "seeds.json"
    seeds.write_text(json.dumps([{"instruction": "Summarise.", "examples": [{"input": "x", "output": "y"}]}]))
    assert load_records(store, import_dataset_file(store, seeds))[0]["instruction"] == "Summarise."


def test_bad_files_name_the_field(store, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a list"}')
    with pytest.raises(InvalidSpec) as err:
        import_dataset_file(store, bad, "mia.members")
    assert err.value.field == "mia.members" and "list of objects" in err.value.message
    with pytest.raises(InvalidSpec):
        import_dataset_file(store, tmp_path / "missing.jsonl")


def test_spec_local_paths_become_artifact_uris(store, tmp_path):
    (tmp_path / "m.jsonl").write_text('{"text": "m"}\n')
    spec = "name: x\nscenario: membership\nmia: {members: m.jsonl, nonmembers: lab:nonmembers}\n"
    rewritten = yaml.safe_load(upload_local_datasets(spec, store, tmp_path))
    assert rewritten["mia"]["members"].startswith("file://") and rewritten["mia"]["nonmembers"] == "lab:nonmembers"
    assert upload_local_datasets("name: y\n", store, tmp_path) == "name: y\n"
