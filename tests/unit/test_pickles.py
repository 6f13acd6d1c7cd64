"""Pickle checkpoints: refused by default; with allow_pickle converted once to safetensors by torch's
weights-only unpickler, so a plain state dict loads and a malicious pickle is refused without running."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

from genleak.core.errors import UnsafeArtifact
from genleak.core.models import resolve_model_dir
from genleak.core.settings import StoreSettings
from genleak.core.store import ArtifactStore


def _store(tmp_path) -> ArtifactStore:
    return ArtifactStore(StoreSettings(root=f"file://{tmp_path}/store", cache_dir=tmp_path / "cache"))


def _pickle_only_model(tmp_path: Path) -> tuple[Path, Path]:
    """A tiny HF model saved the old way: pytorch_model.bin (a pickle) beside its config and tokenizer."""
    import torch

    from genleak.engines.probe_model import build_tiny_model

    source = build_tiny_model(tmp_path / "source", arch="gpt_neox")
    legacy = tmp_path / "legacy"
    shutil.copytree(source, legacy)
    for weights in legacy.glob("*.safetensors"):
        weights.unlink()
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(source)
    torch.save(model.state_dict(), legacy / "pytorch_model.bin")
    return source, legacy


class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickle_only_models_are_refused_unless_allowed_then_converted_once(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    source, legacy = _pickle_only_model(tmp_path)
    store = _store(tmp_path)
    with pytest.raises(UnsafeArtifact, match="allow_pickle"):
        resolve_model_dir(store, str(legacy))
    converted = resolve_model_dir(store, str(legacy), allow_pickle=True)
    assert converted != legacy and (converted / "model.safetensors").is_file()
    assert not list(converted.glob("*.bin")) and (converted / "config.json").is_file()
    assert converted.parent == tmp_path / "cache" / "from-pickle"
    ids = torch.tensor([[1, 5, 9, 2, 7]])
    with torch.no_grad():
        want = AutoModelForCausalLM.from_pretrained(source).eval()(ids).logits
        got = AutoModelForCausalLM.from_pretrained(converted, use_safetensors=True).eval()(ids).logits
    torch.testing.assert_close(got, want)
    stamp = (converted / "model.safetensors").stat().st_mtime_ns
    assert resolve_model_dir(store, str(legacy), allow_pickle=True) == converted  # cached, not converted again
    assert (converted / "model.safetensors").stat().st_mtime_ns == stamp


def test_a_malicious_pickle_is_refused_even_when_pickles_are_allowed(tmp_path):
    _, legacy = _pickle_only_model(tmp_path)
    marker = tmp_path / "pwned"
    (legacy / "pytorch_model.bin").write_bytes(pickle.dumps({"weight": _Exploit(marker)}))
    with pytest.raises(UnsafeArtifact, match="weights-only loader refused"):
        resolve_model_dir(_store(tmp_path), str(legacy), allow_pickle=True)
    assert not marker.exists()
    assert not list((tmp_path / "cache" / "from-pickle").glob("*/model.safetensors"))


def test_models_import_publishes_a_converted_artifact_only_when_allowed(tmp_path, capsys, monkeypatch):
    from genleak.cli import main

    monkeypatch.setenv("GENLEAK_CACHE_DIR", str(tmp_path / "cache"))
    _, legacy = _pickle_only_model(tmp_path)
    store = str(tmp_path / "store")
    assert main(["models", "import", str(legacy), "--store", store]) == 2
    assert "allow_pickle" in capsys.readouterr().err
    assert main(["models", "import", str(legacy), "--allow-pickle", "--store", store]) == 0
    uri = capsys.readouterr().out.split()[1]
    folder = _store(tmp_path).fetch(uri)
    assert (folder / "model.safetensors").is_file() and not list(folder.glob("*.bin"))
    assert resolve_model_dir(_store(tmp_path), uri) == folder  # a plain safetensors model from here on
