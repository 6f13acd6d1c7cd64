"""Attacker core, membership inference: job spec, inputs from the store, outputs to the store.

Outputs: a `scores` dataset (one row per scored text: side, source row, tokens, every attack's
score; never the text, which may hold PII), a `roc` artifact (roc.png + metrics.json with the
full curves), and a small result (AUC with CI, TPR@FPR, PR-AUC per attack; perplexity; the
scoring's compute: device, dtype, peak memory, tokens per second).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from genleak.attacker.mia import attack_names, get_attack, plot_roc
from genleak.attacker.mia.evaluate import MetricOptions, MIAOutcome, evaluate_membership, required_extras
from genleak.attacker.mia.logprobs import scoring_dtype
from genleak.attacker.mia.registry import parse_attack_config
from genleak.contracts.text_selection import SelectedTexts, select_texts
from genleak.contracts.compute import ComputeRecord
from genleak.contracts.engine import EngineConfig
from genleak.contracts.membership import MembershipJobResult, MembershipParams, MIAAttackChoice, ScoreTextsParams
from genleak.core.errors import InvalidSpec
from genleak.core.datasets import load_records, publish_records, require_dataset
from genleak.core.jobs import JobOutput
from genleak.core.models import require_model, resolve_model
from genleak.core.progress import Reporter
from genleak.core.specs import ArtifactSpec, ModelSpec
from genleak.core.store import ArtifactRef, ArtifactStore

if TYPE_CHECKING:
    from genleak.compute.device import ComputeMeter

# Attacks run when a request names none: every one that needs no second model.
DEFAULT_ATTACKS = ("loss", "zlib", "min_k", "min_k_plus_plus")


class MIAAttackSpec(MIAAttackChoice):
    """An attack choice checked against the registry, its config complete (defaults filled in)."""

    model_config = ConfigDict(**MIAAttackChoice.model_config, validate_default=True)

    @field_validator("name")
    @classmethod
    def _registered(cls, name: str) -> str:
        if name not in attack_names():
            raise ValueError(f"unknown MIA attack {name!r}; valid: {', '.join(attack_names())}")
        return name

    @field_validator("config", mode="before")
    @classmethod
    def _full_config(cls, value: Any, info: ValidationInfo) -> Any:
        # The full config (defaults filled in) is the identity: {} and {k: 0.2} hash alike.
        if "name" not in info.data:  # the name was invalid and is reported already
            return value
        return get_attack(info.data["name"]).config_cls.model_validate(value or {}).model_dump(mode="json")


class MIAJobSpec(MembershipParams):
    """The membership contract's params, attacks checked, plus what the job reads."""

    model_config = ConfigDict(**MembershipParams.model_config, validate_default=True)

    model: ModelSpec
    members: ArtifactSpec
    nonmembers: ArtifactSpec
    reference_model: ModelSpec | None = None
    perplexity_dataset: ArtifactSpec | None = Field(None, description="Held-out text for the utility perplexity")
    attacks: list[MIAAttackSpec] = MembershipParams.model_fields["attacks"]

    @model_validator(mode="after")
    def _attack_set(self) -> "MIAJobSpec":
        attacks = list(self.attacks)
        if not attacks:
            names = DEFAULT_ATTACKS + (("reference",) if self.reference_model else ())
            attacks = [MIAAttackSpec(name=n) for n in names]
            object.__setattr__(self, "attacks", attacks)
        names = [a.name for a in attacks]
        if len(set(names)) != len(names):
            raise ValueError(f"attacks are listed twice: {names}")
        if "reference" in required_extras(dict.fromkeys(names)) and self.reference_model is None:
            raise InvalidSpec("the reference attack needs a reference model", field="reference_model")
        return self

    def attack_configs(self) -> dict[str, dict[str, Any]]:
        return {a.name: a.config for a in self.attacks}

    def scoring_engine(self) -> EngineConfig:
        update: dict[str, Any] = {"trust_remote_code": self.model.trust_remote_code}
        if self.batch_size is not None:
            update["batch_size"] = self.batch_size
        return self.engine.model_copy(update=update)


class ScoreTextsSpec(ScoreTextsParams):
    model: ModelSpec
    texts: list[str] = Field(min_length=1, max_length=256)
    reference_model: ModelSpec | None = None
    attacks: list[MIAAttackSpec] = ScoreTextsParams.model_fields["attacks"]


def preflight_mia(store: ArtifactStore, spec: MIAJobSpec) -> None:
    require_model(store, spec.model.uri, allow_pickle=spec.model.allow_pickle)
    if spec.reference_model is not None:
        require_model(store, spec.reference_model.uri, "reference_model.uri",
                      allow_pickle=spec.reference_model.allow_pickle)
    for name, folder_ref in attack_model_refs(spec.attack_configs()).items():
        require_model(store, folder_ref, f"attacks.{name}.mask_model")
    require_dataset(store, spec.members.uri, "members.uri")
    require_dataset(store, spec.nonmembers.uri, "nonmembers.uri")
    if spec.perplexity_dataset is not None:
        require_dataset(store, spec.perplexity_dataset.uri, "perplexity_dataset.uri")


def run_membership_inference(store: ArtifactStore, spec: MIAJobSpec, root: str, reporter: Reporter) -> JobOutput:
    from genleak.compute.device import ComputeMeter, pick_device  # torch-side: loaded when a job runs

    params = spec.selection()
    members = select_texts(load_records(store, _ref(spec.members), "members"), params, "members")
    nonmembers = select_texts(load_records(store, _ref(spec.nonmembers), "nonmembers"), params, "nonmembers")
    heldout = None
    if spec.perplexity_dataset is not None:
        heldout_sel = params.model_copy(update={"min_words": 0, "max_words": None})
        heldout = select_texts(load_records(store, _ref(spec.perplexity_dataset), "perplexity_dataset"),
                               heldout_sel, "perplexity_dataset").texts
    reference_dir = (resolve_model(store, spec.reference_model, "reference_model.uri")
                     if spec.reference_model is not None else None)
    with ComputeMeter(pick_device()) as meter:
        outcome = evaluate_membership(
            resolve_model(store, spec.model),
            members.texts, nonmembers.texts, resolve_attack_models(store, spec.attack_configs()),
            spec.scoring_engine(), spec.max_tokens, reference_dir,
            MetricOptions(tuple(spec.fprs), spec.n_bootstrap, spec.seed), reporter, heldout)
    artifacts = publish_mia_outputs(store, outcome, members, nonmembers, root, spec.model.uri)
    compute = scoring_compute(meter, spec.engine, scoring_rate(outcome))
    return JobOutput(artifacts=artifacts, result=mia_summary(spec.engine.name, outcome, members, nonmembers, compute))


def scoring_compute(meter: ComputeMeter, engine: EngineConfig, tokens_per_second: float) -> ComputeRecord:
    """The record of the scoring `meter` measured. Every scorer computes "auto" in float32; the hf scorer runs
    in this process, on the meter's device, while vLLM runs in processes of its own (on the same kind of
    device), whose memory this process does not see."""
    precision = scoring_dtype(engine.dtype)
    if engine.name == "hf":
        return meter.record(precision, tokens_per_second)
    return meter.engine_record({"dtype": precision, "device": meter.device.type}, tokens_per_second)


def scoring_rate(outcome: MIAOutcome) -> float:
    """Tokens scored per second of scoring (the target's pass and the reference model's)."""
    total_s = sum(v for k, v in outcome.seconds.items() if k.startswith("score"))
    return round(outcome.tokens_scored / total_s, 1) if total_s > 0 else 0.0


def publish_mia_outputs(store: ArtifactStore, outcome: MIAOutcome, members: SelectedTexts, nonmembers: SelectedTexts,
                        root: str, model_uri: str) -> dict[str, ArtifactRef]:
    """The `scores` dataset and the `roc` artifact under `root` (also the controller's merge of shards)."""
    return {"scores": publish_records(store, _score_rows(outcome, members, nonmembers), f"{root}/scores",
                                      meta={"model": model_uri}),
            "roc": _publish_roc(store, outcome, f"{root}/roc")}


def mia_summary(engine: str, outcome: MIAOutcome, members: SelectedTexts, nonmembers: SelectedTexts,
                compute: ComputeRecord | dict | None = None) -> dict:
    attacks = {name: {"auc": m.auc, "auc_ci_low": m.auc_ci[0], "auc_ci_high": m.auc_ci[1], "pr_auc": m.pr_auc,
                      "pr_auc_mimir": m.pr_auc_mimir,
                      "tpr_at_fpr": {str(f): tpr for f, tpr in m.tpr_at_fpr.items()},
                      "tpr_at_fpr_at_most": {str(f): tpr for f, tpr in m.tpr_at_fpr_at_most.items()}}
               for name, m in outcome.metrics.items()}
    perplexity = {"nonmembers": outcome.nonmember_perplexity}
    if outcome.heldout_perplexity is not None:
        perplexity["heldout"] = outcome.heldout_perplexity
    return MembershipJobResult.model_validate({
        "attacks": attacks, "n_members": len(members.texts), "n_nonmembers": len(nonmembers.texts),
        "dropped_too_short": {"members": members.n_too_short, "nonmembers": nonmembers.n_too_short},
        "perplexity": perplexity, "engine": engine, "tokens_scored": outcome.tokens_scored, "seconds": outcome.seconds,
        "tokens_per_second": scoring_rate(outcome), "compute": compute,
    }).model_dump(mode="json")


def score_texts(store: ArtifactStore, spec: ScoreTextsSpec, reporter: Reporter) -> list[dict[str, Any]]:
    """Every requested attack's score for each text (the synchronous ScoreTexts call)."""
    from genleak.attacker.mia.evaluate import score_with_extras
    from genleak.attacker.mia.registry import run_attacks

    attacks = {a.name: a.config for a in spec.attacks} or {n: {} for n in DEFAULT_ATTACKS}
    attacks = resolve_attack_models(store, attacks)
    if "reference" in required_extras(attacks) and spec.reference_model is None:
        raise InvalidSpec("the reference attack needs a reference model", field="reference_model")
    reference_dir = (resolve_model(store, spec.reference_model, "reference_model.uri")
                     if spec.reference_model is not None else None)
    engine = spec.engine.model_copy(update={"trust_remote_code": spec.model.trust_remote_code})
    target_dir = resolve_model(store, spec.model)
    target, extras = score_with_extras(target_dir, list(spec.texts), attacks, engine, spec.max_tokens, reference_dir,
                                       reporter)
    scores = run_attacks(attacks, target, extras)
    return [{"scores": {name: float(values[i]) for name, values in scores.items()}, "n_tokens": int(t.token_ids.size)}
            for i, t in enumerate(target)]


def attack_model_refs(attacks: dict[str, Any]) -> dict[str, str]:
    """The model each attack's config names (the neighbourhood attack's masked LM), by attack."""
    return {name: parse_attack_config(name, raw).mask_model for name, raw in attacks.items()
            if "neighbours" in get_attack(name).needs}


def resolve_attack_models(store: ArtifactStore, attacks: dict[str, Any]) -> dict[str, Any]:
    """Attack configs with their model references replaced by local folders (fetched, verified)."""
    out = dict(attacks)
    for name, ref in attack_model_refs(attacks).items():
        folder = resolve_model(store, ModelSpec(uri=ref), f"attacks.{name}.mask_model")
        out[name] = {**dict(attacks[name]), "mask_model": str(folder)}
    return out


def _score_rows(outcome: MIAOutcome, members: SelectedTexts, nonmembers: SelectedTexts) -> list[dict]:
    rows = []
    for side, selected, scores, tokens in (("member", members, outcome.member_scores, outcome.member_tokens),
                                           ("nonmember", nonmembers, outcome.nonmember_scores, outcome.nonmember_tokens)):
        for i, row in enumerate(selected.source_index):
            rows.append({"side": side, "row": row, "n_tokens": int(tokens[i]),
                         **{name: float(s[i]) for name, s in scores.items()}})
    return rows


def _publish_roc(store: ArtifactStore, outcome: MIAOutcome, uri: str) -> ArtifactRef:
    with tempfile.TemporaryDirectory(prefix="genleak-roc-") as tmp:
        plot_roc(outcome.metrics, Path(tmp) / "roc.png")
        curves = {name: {**asdict(m), "tpr_at_fpr": {str(f): v for f, v in m.tpr_at_fpr.items()},
                         "tpr_at_fpr_at_most": {str(f): v for f, v in m.tpr_at_fpr_at_most.items()}}
                  for name, m in outcome.metrics.items()}
        (Path(tmp) / "metrics.json").write_text(json.dumps(curves, indent=1, sort_keys=True))
        return store.publish(Path(tmp), uri, kind="plot")


def _ref(spec: ArtifactSpec) -> ArtifactRef:
    return ArtifactRef(spec.uri, spec.sha256, "dataset")
