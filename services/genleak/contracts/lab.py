"""The lab-build job's contract: which built-in lab to build (or find in the store), and what it returns.

The built-in lab is a seeded Enron-like world with planted PII and small models pretrained on it
(genleak.lab). Building it trains models, so it runs on the finetuner; the job's artifacts are the
lab's datasets and models by name (`target`, `generator`, `mask_model`, `members`, `prompts`, ...,
and `index`), its result is the lab's summary (lab.json).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from genleak.core.specs import Spec


class LabBuildParams(Spec):
    """What StartLabBuild takes: a preset, a seed and overrides of the preset's LabConfig fields."""

    preset: str = Field("default", description="Lab size preset (tiny, default)")
    seed: int = Field(0, description="Seed of the synthetic world")
    overrides: dict[str, Any] = Field(default_factory=dict, description="LabConfig fields to override (nested, "
                                      "e.g. {target: {num_layers: 4}}); validated by the lab")


class LabBuildResult(Spec):
    """lab.json of the built lab: its full config, sizes and training statistics, and the memorisation probe."""

    config: dict[str, Any]
    config_hash: str
    stats: dict[str, Any]
    memorization: dict[str, Any]
