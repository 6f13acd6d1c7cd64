"""A lab seed builds the same bytes twice: every file of every dataset and model artifact has the same sha256.

README numbers come from lab-built models; they can only be reproduced if a rebuild from the same
seed gives the same artifacts (on the same machine: float kernels may differ between CPUs). An
artifact's own sha256 covers its manifest, which records when it was published, so the files are
compared; the index is left out because lab.json records how long each build phase took.
"""

from __future__ import annotations

from genleak.core.settings import StoreSettings
from genleak.core.store import ArtifactStore
from genleak.lab.publish import DATASETS, MODELS, ensure_lab


def _store(root):
    return ArtifactStore(StoreSettings(root=f"file://{root}/store", cache_dir=root / "cache"))


def _file_hashes(root, seed: int) -> dict[str, dict[str, str]]:
    store = _store(root)
    refs = ensure_lab(store, "tiny", seed=seed)
    return {name: {f.path: f.sha256 for f in store.manifest(refs[name].uri).files} for name in DATASETS + MODELS}


def test_same_seed_publishes_byte_identical_lab_artifacts(tmp_path):
    first, second = _file_hashes(tmp_path / "a", 0), _file_hashes(tmp_path / "b", 0)
    other = _file_hashes(tmp_path / "c", 1)
    for name in DATASETS + MODELS:
        assert first[name] == second[name], name
        assert first[name] != other[name], name
    assert "model.safetensors" in first["target"] and "data.jsonl" in first["members"]
