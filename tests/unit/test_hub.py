"""hf://org/name[@revision] model references: parsed at the edge, fetched safetensors-only into the
cache when the job runs, and a clear NOT_FOUND where no hub is reachable (as here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from genleak.core.errors import InvalidSpec, ModelNotFound
from genleak.core.hub import ALLOW_PATTERNS, parse_hf_uri
from genleak.core.models import require_model, resolve_model_dir
from genleak.core.settings import StoreSettings
from genleak.core.specs import ModelSpec, parse_spec
from genleak.core.store import ArtifactStore


def _store(tmp_path) -> ArtifactStore:
    return ArtifactStore(StoreSettings(root=f"file://{tmp_path}/store", cache_dir=tmp_path / "cache"))


def test_hf_uris_are_parsed_and_validated_at_the_edge():
    assert parse_hf_uri("hf://EleutherAI/pythia-1.4b") == ("EleutherAI/pythia-1.4b", None)
    assert parse_hf_uri("hf://EleutherAI/pythia-1.4b@step143000") == ("EleutherAI/pythia-1.4b", "step143000")
    for bad in ("hf://pythia", "hf://a/b/c", "hf://../etc", "hf://a/..", "hf://a/b@../x", "hf:///b"):
        with pytest.raises(InvalidSpec):
            parse_hf_uri(bad)
    assert parse_spec(ModelSpec, {"uri": "hf://EleutherAI/pythia-1.4b@main"}).uri.startswith("hf://")
    with pytest.raises(InvalidSpec, match="model.uri"):
        parse_spec(ModelSpec, {"uri": "hf://nope"}, where="model")


def test_hf_model_is_fetched_safetensors_only_into_the_cache(tmp_path, monkeypatch):
    import huggingface_hub

    from genleak.engines.probe_model import build_tiny_model

    folder = build_tiny_model(tmp_path / "tiny", arch="llama")
    calls = []

    def fake_snapshot(repo_id, revision=None, allow_patterns=None, cache_dir=None, **kwargs):
        calls.append((repo_id, revision, tuple(allow_patterns), cache_dir))
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot)
    store = _store(tmp_path)
    require_model(store, "hf://org/tiny@v1")  # no download at submission time
    assert calls == []
    assert resolve_model_dir(store, "hf://org/tiny@v1") == folder
    repo, revision, patterns, cache_dir = calls[0]
    assert (repo, revision) == ("org/tiny", "v1") and cache_dir == str(tmp_path / "cache" / "hf")
    assert "*.safetensors" in patterns and not any(p.endswith((".bin", ".pt", ".pth")) for p in ALLOW_PATTERNS)


def test_unreachable_hub_is_a_clear_not_found(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # as on a machine without the hub: nothing in the cache either
    with pytest.raises(ModelNotFound, match="hf://org/absent could not be fetched") as err:
        resolve_model_dir(_store(tmp_path), "hf://org/absent")
    assert err.value.code == "NOT_FOUND"


def _bake(hub_cache, repo: str, commit: str, ref: str = "main"):
    """A model as `hf download` leaves it in the hub cache (what the images' PRELOAD_MODELS do)."""
    from genleak.engines.probe_model import build_tiny_model

    root = hub_cache / ("models--" + repo.replace("/", "--"))
    (root / "refs").mkdir(parents=True)
    (root / "refs" / ref).write_text(commit)
    return build_tiny_model(root / "snapshots" / commit, arch="llama")


def test_models_preloaded_into_hf_home_are_resolved_from_there_without_the_network(tmp_path, monkeypatch):
    import huggingface_hub

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # the images: HF_HOME=/opt/genleak/hf
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    baked = _bake(tmp_path / "hf-home" / "hub", "org/tiny", "a" * 40)
    real = huggingface_hub.snapshot_download
    calls = []

    def spy(repo_id, **kwargs):
        calls.append(kwargs)
        assert kwargs.get("local_files_only"), "a preloaded model is read without the network"
        return real(repo_id, **kwargs)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", spy)
    store = _store(tmp_path)
    assert resolve_model_dir(store, "hf://org/tiny") == baked
    assert resolve_model_dir(store, f"hf://org/tiny@{'a' * 40}") == baked
    assert not (tmp_path / "cache" / "hf").exists(), "nothing is copied into the genleak cache"
    assert calls[0]["cache_dir"] == str(tmp_path / "hf-home" / "hub") and tuple(calls[0]["allow_patterns"]) == tuple(
        ALLOW_PATTERNS)


def test_a_preloaded_model_of_another_revision_is_not_taken_for_the_one_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _bake(tmp_path / "hf-home" / "hub", "org/tiny", "b" * 40)
    with pytest.raises(ModelNotFound, match="hf://org/tiny@v2 could not be fetched"):
        resolve_model_dir(_store(tmp_path), "hf://org/tiny@v2")


def test_hf_hub_cache_follows_huggingface_hubs_variables(monkeypatch, tmp_path):
    from genleak.core.hub import hf_hub_cache

    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", "/opt/genleak/hf")
    assert hf_hub_cache() == Path("/opt/genleak/hf/hub")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    assert hf_hub_cache() == tmp_path
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.delenv("HF_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert hf_hub_cache() == tmp_path / "huggingface" / "hub"


def test_a_reference_without_revision_is_pinned_to_the_commit_it_means(tmp_path, monkeypatch):
    from genleak.core.hub import pinned_revision

    commit = "0123456789abcdef0123456789abcdef01234567"
    refs = tmp_path / "models--org--name" / "refs"
    refs.mkdir(parents=True)
    (refs / "main").write_text(commit + "\n")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert pinned_revision("org/name") == commit  # a preloaded copy names its commit without the network
    assert pinned_revision("org/other") is None  # offline and not preloaded: not pinnable here


def test_genleak_run_pins_hf_models_in_the_spec_it_submits(capsys):
    import yaml

    from genleak.cli.run import pin_hf_models
    from genleak.controller.spec import load_spec_text

    text = "name: pin\nlab: {preset: tiny}\ntarget: hf://org/target@v1\ngenerator: {model: hf://org/gen}\n"
    spec = load_spec_text(text)
    pinned = yaml.safe_load(pin_hf_models(text, spec, resolve=lambda repo: "f" * 40))
    assert pinned["generator"]["model"] == "hf://org/gen@" + "f" * 40
    assert pinned["target"] == "hf://org/target@v1"  # a revision given is kept
    assert "pinned generator.model" in capsys.readouterr().err
    assert pin_hf_models(text, spec, resolve=lambda repo: None) == text  # not pinnable: as written, warned
    assert "is not pinned" in capsys.readouterr().err
