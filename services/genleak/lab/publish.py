"""Publish a built lab into the artifact store, once per config (the config hash is the key).

Every dataset and model folder becomes its own artifact; `index` (lab.json + refs.json) is
published last, so a lab whose index exists is complete.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from genleak.core.errors import NotReady
from genleak.core.progress import NULL_REPORTER, Reporter
from genleak.core.store import ArtifactRef, ArtifactStore

log = logging.getLogger(__name__)

# Mirrors lab.datasets.DATASET_NAMES (not imported: that module pulls in the lab's heavy imports).
DATASETS = ("members", "nonmembers", "prompts", "pii_targets", "few_shot", "people", "seed_tasks")
MODELS = ("target", "generator", "mask_model")
# Bump whenever a build publishes different artifacts for the same LabConfig (2: + seed_tasks; 3: deal subjects
# filled in, seed tasks marked is_classification, + mask_model; 4: the masked LM's vocabulary built
# deterministically; 5: pretraining's lr schedule is transformers' cosine_with_min_lr, whose warm-up
# starts at lr 0 and lasts ceil(warmup_ratio * steps) steps, as the finetuner's).
# Artifacts are immutable (a second publish to a URI returns the first), so a lab published by an
# older build can never gain the new dataset in place: "rebuild when the index lacks a dataset"
# would republish into the old index forever. A new root per format rebuilds old labs once instead.
LAB_FORMAT = 5


def lab_root(store: ArtifactStore, config) -> str:
    return store.uri_for("labs", f"v{LAB_FORMAT}", config.spec_hash()[:24])


def ensure_lab(store: ArtifactStore, preset: str, seed: int, overrides: dict[str, Any] | None = None,
               reporter: Reporter = NULL_REPORTER) -> dict[str, ArtifactRef]:
    """Return refs of the lab's artifacts (name -> ref), building and publishing it if needed."""
    from genleak.lab.config import LabConfig

    config = LabConfig.preset(preset, {**(overrides or {}), "seed": seed})
    root = lab_root(store, config)
    existing = load_lab_refs(store, root)
    if existing is not None:
        reporter.update("lab", 1, 1, f"lab found in store ({root})")
        return existing
    with tempfile.TemporaryDirectory(prefix="genleak-lab-") as tmp:
        from genleak.lab.build import build_lab

        build_lab(config, Path(tmp), reporter)
        return publish_lab(store, Path(tmp), root)


def publish_lab(store: ArtifactStore, lab_dir: Path, root: str) -> dict[str, ArtifactRef]:
    refs: dict[str, ArtifactRef] = {}
    for name in DATASETS:
        refs[name] = store.publish(lab_dir / "datasets" / name, f"{root}/datasets/{name}", kind="dataset")
    for name in MODELS:
        refs[name] = store.publish(lab_dir / "models" / name, f"{root}/models/{name}", kind="model")
    with tempfile.TemporaryDirectory(prefix="genleak-labidx-") as tmp:
        (Path(tmp) / "lab.json").write_bytes((lab_dir / "lab.json").read_bytes())
        (Path(tmp) / "refs.json").write_text(json.dumps({k: asdict(v) for k, v in refs.items()}, indent=1))
        refs["index"] = store.publish(Path(tmp), f"{root}/index", kind="lab")
    log.info("lab published at %s", root)
    return refs


def load_lab_refs(store: ArtifactStore, root: str) -> dict[str, ArtifactRef] | None:
    if store.lookup(f"{root}/index") is None:
        return None
    index = store.lookup(f"{root}/index")
    data = json.loads((store.fetch(index) / "refs.json").read_text())
    missing = [name for name in DATASETS + MODELS if name not in data]
    if missing:  # a build that added an artifact without bumping LAB_FORMAT
        raise NotReady(f"lab index {root} lacks {', '.join(missing)}; bump genleak.lab.publish.LAB_FORMAT")
    return {**{name: ArtifactRef(**ref) for name, ref in data.items()}, "index": index}


def lab_summary(store: ArtifactStore, index_uri: str) -> dict[str, Any]:
    """lab.json of a published lab: its config, stats and memorisation counts."""
    return json.loads((store.fetch(index_uri) / "lab.json").read_text())
