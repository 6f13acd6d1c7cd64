"""The membership-inference jobs' contract: StartMembershipInference's and ScoreTexts' params and results.

Scores are "higher = more likely a member" for every attack. A job selects its texts MIMIR-style
(`TextSelection`: word-length filter, truncation, seeded sampling), scores them in one pass per model
and reports per attack the ROC-AUC with a bootstrap interval, TPR at fixed FPRs and PR-AUC.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from genleak.contracts.compute import ComputeRecord
from genleak.contracts.engine import EngineConfig
from genleak.contracts.text_selection import TextSelection
from genleak.core.specs import Spec


class MIAAttackChoice(Spec):
    """One attack by registered name with its own knobs (checked by the attacker's attack registry)."""

    name: str = Field(description="Registered attack: loss, zlib, min_k, min_k_plus_plus, reference, lowercase, ne")
    config: dict[str, Any] = Field(default_factory=dict, description="The attack's knobs, e.g. min_k: {k: 0.2}; "
                                   "ne: {mask_model: ..., n_neighbours: ...}")


class MembershipParams(TextSelection):
    """What StartMembershipInference takes besides the model, the texts and the reference model."""

    engine: EngineConfig = Field(default_factory=EngineConfig, description="Scoring engine: hf (batched forward) | "
                                 "vllm (prompt_logprobs)")
    attacks: list[MIAAttackChoice] = Field(default_factory=list, description="Attacks to run; empty = loss, zlib, "
                                           "min_k, min_k_plus_plus (+ reference when a reference model is given)")
    max_tokens: int = Field(512, ge=2, description="Score each text's first this many tokens, or slide windows of "
                            "the model's context over it (MIMIR: 512)")
    n_bootstrap: int = Field(1000, ge=0, description="Bootstrap replicates of the AUC confidence interval")
    fprs: list[float] = Field([0.01, 0.001], description="Report TPR at these false-positive rates")
    batch_size: int | None = Field(None, ge=1, description="Scoring batch size (overrides engine.batch_size)")

    @field_validator("fprs")
    @classmethod
    def _rates(cls, fprs: list[float]) -> list[float]:
        for f in fprs:
            if not 0 < f < 1:
                raise ValueError(f"fprs must lie in (0, 1), got {f}")
        return fprs or [0.01, 0.001]

    def selection(self) -> TextSelection:
        return TextSelection(**{name: getattr(self, name) for name in TextSelection.model_fields})


class ScoreTextsParams(Spec):
    """What ScoreTexts takes besides the model, the texts and the reference model."""

    engine: EngineConfig = Field(default_factory=EngineConfig, description="Scoring engine")
    attacks: list[MIAAttackChoice] = Field(default_factory=list, description="Attacks to score with; empty = loss, "
                                           "zlib, min_k, min_k_plus_plus")
    max_tokens: int = Field(512, ge=2, description="Score each text's first this many tokens")


class AttackMetrics(Spec):
    """One attack's separation of members from non-members (members are the positive class)."""

    auc: float
    auc_ci_low: float = Field(description="95% bootstrap interval (NaN without bootstrap replicates)")
    auc_ci_high: float
    pr_auc: float = Field(description="Average precision, members positive")
    pr_auc_mimir: float = Field(description="MIMIR's PR-AUC (trapezoidal area under its precision-recall curve)")
    tpr_at_fpr: dict[str, float] = Field(description="FPR (as a string) -> largest TPR with FPR strictly below it "
                                         "(MIMIR's rule)")
    tpr_at_fpr_at_most: dict[str, float] = Field(description="The same with FPR at most the target")


class SidesCount(Spec):
    members: int
    nonmembers: int


class MembershipPerplexity(Spec):
    nonmembers: float | None
    heldout: float | None = None


class MembershipJobResult(Spec):
    """StartMembershipInference's result; per-text scores are the `scores` artifact, curves the `roc` artifact."""

    attacks: dict[str, AttackMetrics]
    n_members: int
    n_nonmembers: int
    dropped_too_short: SidesCount
    perplexity: MembershipPerplexity
    engine: str
    tokens_scored: int
    seconds: dict[str, float]
    tokens_per_second: float
    compute: ComputeRecord | None = Field(None, description="Where the job computed: device, "
                                          "precision, peak memory, library versions")
