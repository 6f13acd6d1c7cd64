"""`LabResult` and lab.json: what a built lab says about itself, readable without rebuilding."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from genleak.core.errors import ArtifactNotFound
from genleak.lab.config import LabConfig
from genleak.lab.datasets import DATASET_NAMES

HEADLINE_PROBE = "mailto_greedy"
LAB_JSON = "lab.json"


@dataclass(frozen=True)
class LabResult:
    out_dir: Path
    config: LabConfig
    datasets: dict[str, Path]  # dataset name -> its data.jsonl
    target_dir: Path
    generator_dir: Path
    mask_model_dir: Path  # the BERT masked LM of the neighbourhood attack
    lab_json: Path
    stats: dict  # counts, tokens, params, train losses, seconds per phase
    memorization: dict  # per model and probe: exact/contains/fuzzy counts out of the eval people

    @property
    def target_exact(self) -> int:
        return self.memorization["target"][HEADLINE_PROBE]["exact"]

    @property
    def n_eval(self) -> int:
        return self.memorization["target"][HEADLINE_PROBE]["total"]

    @property
    def summary(self) -> str:
        return self.memorization["summary"]


def write_lab_json(out_dir: Path, config: LabConfig, stats: dict, memorization: dict) -> None:
    payload = {"config": config.model_dump(mode="json"), "config_hash": config.spec_hash(), "stats": stats,
               "memorization": memorization}
    (out_dir / LAB_JSON).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def load_lab_result(out_dir: Path) -> LabResult:
    """Read a complete lab back; lab.json is written last, so without it the build did not finish."""
    out_dir = Path(out_dir)
    lab_json = out_dir / LAB_JSON
    if not lab_json.is_file():
        raise ArtifactNotFound(f"no complete lab at {out_dir} ({LAB_JSON} missing)")
    data = json.loads(lab_json.read_text(encoding="utf-8"))
    return LabResult(
        out_dir=out_dir,
        config=LabConfig.model_validate(data["config"]),
        datasets={name: out_dir / "datasets" / name / "data.jsonl" for name in DATASET_NAMES},
        target_dir=out_dir / "models" / "target",
        generator_dir=out_dir / "models" / "generator",
        mask_model_dir=out_dir / "models" / "mask_model",
        lab_json=lab_json,
        stats=data["stats"],
        memorization=data["memorization"],
    )
