"""Scenario B report: MIA metrics per attack x condition, relative change vs base, perplexity
per checkpoint, and one ROC figure (a panel per attack, a curve per condition).

Conditions are compared at the last attacked epoch of each (the paper compares the tuned model
with its base); the per-checkpoint table shows every attacked epoch beside it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from genleak.report.compute import compute_lines, compute_summary
from genleak.report.conditions import CONDITION_ORDER, PLANTED, condition_label
from genleak.report.controls import membership_control_lines, sanity_lines, training_data_lines

log = logging.getLogger(__name__)



def build_membership_report(spec: Any, run_name: str, outcome: dict[str, Any],
                            provenance: dict[str, Any]) -> dict[str, Any]:
    """Scenario B's report.json; `spec` is the run's ExperimentSpec (genleak.controller.spec)."""
    every = outcome["attacks"]
    # The positive control was tuned on non-members: its member/non-member numbers have their own section.
    attacks = [a for a in every if a["condition"] != PLANTED]
    # A column per condition, or per condition and sweep setting when the spec sweeps fine-tuning.
    conditions = list(dict.fromkeys(condition_label(a) for a in sorted(attacks, key=_order)))
    last = _last_epoch_per_condition(attacks)
    names = list(spec.mia.attacks)
    table = {name: {c: _cell(last[c]["attacks"][name], last[c]["epoch"]) for c in conditions} for name in names}
    return {
        "run": run_name,
        "scenario": spec.scenario,
        "conditions": conditions,
        "attack_names": names,
        "fprs": [str(f) for f in spec.mia.fprs],
        "n_members": attacks[0]["n_members"] if attacks else 0,
        "n_nonmembers": attacks[0]["n_nonmembers"] if attacks else 0,
        "table": table,
        "relative_auc_change_vs_base": _relative(table, conditions),
        "checkpoints": [_checkpoint_row(a, names) for a in sorted(attacks, key=_order)],
        "all_conditions": list(dict.fromkeys(a["condition"] for a in sorted(every, key=_order))),
        "positive_control": outcome.get("positive_control") or {},
        "training_data": outcome.get("training_data") or {},
        "generation": outcome.get("generation") or {},
        "lab_memorization": (outcome.get("lab") or {}).get("memorization", {}).get("summary", ""),
        "stage_seconds": outcome["stage_seconds"],
        "inputs": outcome["inputs"],
        "provenance": {**provenance, "compute": compute_summary(outcome.get("compute") or {})},
        "compute": outcome.get("compute") or {},
        "spec": spec.model_dump(mode="json"),
        "roc_uris": {f"{condition_label(a)}@{a['epoch']}": a["roc_uri"] for a in every},
    }


def _order(attack: dict) -> tuple:
    setting = attack.get("setting") or {}
    key = (setting.get("method", ""), setting.get("learning_rate", 0.0), setting.get("seed", 0))
    return CONDITION_ORDER.index(attack["condition"]), key, attack["epoch"]


def _last_epoch_per_condition(attacks: list[dict]) -> dict[str, dict]:
    last: dict[str, dict] = {}
    for attack in attacks:
        if attack["epoch"] >= last.get(condition_label(attack), {}).get("epoch", -1):
            last[condition_label(attack)] = attack
    return last


TPR_RULE = ("MIMIR's rule: the TPR of the last ROC point whose FPR is strictly below the target (report.json "
            "also holds tpr_at_fpr_at_most: the best TPR with FPR at most the target).")


def tpr_heading(fpr: str) -> str:
    return f"TPR at {float(fpr) * 100:g}% FPR (FPR < {float(fpr) * 100:g}%)"


def _cell(metrics: dict[str, Any], epoch: int) -> dict[str, Any]:
    return {"auc": metrics["auc"], "auc_ci": [metrics["auc_ci_low"], metrics["auc_ci_high"]],
            "tpr_at_fpr": metrics["tpr_at_fpr"], "pr_auc": metrics["pr_auc"], "epoch": epoch,
            **{k: metrics[k] for k in ("tpr_at_fpr_at_most", "pr_auc_mimir") if k in metrics}}


def _relative(table: dict[str, dict[str, dict]], conditions: list[str]) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    for name, row in table.items():
        base = row.get("base", {}).get("auc")
        out[name] = {c: (None if not base else (row[c]["auc"] - base) / base) for c in conditions if c != "base"}
    return out


def _checkpoint_row(attack: dict, names: list[str]) -> dict[str, Any]:
    return {"condition": condition_label(attack), "epoch": attack["epoch"], "model": attack["model"],
            "perplexity": attack.get("perplexity", {}), "auc": {n: attack["attacks"][n]["auc"] for n in names},
            "roc_uri": attack["roc_uri"], "scores_uri": attack["scores_uri"]}


def render_membership_markdown(report: dict[str, Any], roc_file: str | None = None) -> str:
    """Scenario B's report.md; `roc_file`: the ROC figure's file name, linked when given."""
    conditions, names = report["conditions"], report["attack_names"]
    tuned = [c for c in conditions if c != "base"]
    lines = [f"# genleak report: {report['run']}", "",
             f"Scenario B: membership inference on the target's pretraining members after fine-tuning "
             f"({report['n_members']} members vs {report['n_nonmembers']} non-members). ROC-AUC 0.5 = no leakage; "
             f"higher = more membership leakage. Conditions at their last attacked epoch.", ""]
    if report.get("lab_memorization"):
        lines += [f"Lab, before any fine-tuning: {report['lab_memorization']}.", ""]
    lines += _generation_lines(report.get("generation") or {})
    lines += sanity_lines(report)
    header = "| attack | " + " | ".join(_condition_label(report, c) for c in conditions)
    header += "".join(f" | {c} vs base" for c in tuned if "base" in conditions) + " |"
    lines += ["## ROC-AUC [95% bootstrap CI]", "", header,
              "|" + "---|" * (1 + len(conditions) + (len(tuned) if "base" in conditions else 0))]
    for name in names:
        row = report["table"][name]
        cells = [f"{row[c]['auc']:.3f} [{row[c]['auc_ci'][0]:.3f}, {row[c]['auc_ci'][1]:.3f}]" for c in conditions]
        if "base" in conditions:
            cells += [_percent(report["relative_auc_change_vs_base"][name].get(c)) for c in tuned]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for fpr in report["fprs"]:
        lines += ["", f"## {tpr_heading(fpr)}", "", TPR_RULE, ""]
        if report["n_nonmembers"] and float(fpr) < 1 / report["n_nonmembers"]:
            # With N non-members the smallest non-zero FPR is 1/N: below it the table is TPR at zero FPR.
            lines += [f"With {report['n_nonmembers']} non-members the FPR resolution is "
                      f"{1 / report['n_nonmembers']:.2%}: these are TPRs at zero false positives.", ""]
        lines += ["| attack | " + " | ".join(conditions) + " |", "|" + "---|" * (1 + len(conditions))]
        lines += [f"| {name} | " + " | ".join(f"{report['table'][name][c]['tpr_at_fpr'][fpr]:.3f}" for c in conditions)
                  + " |" for name in names]
    lines += ["", "## Every checkpoint: perplexity (utility) and ROC-AUC", "",
              "| condition | epoch | perplexity (held-out) | " + " | ".join(names) + " |",
              "|" + "---|" * (3 + len(names))]
    for row in report["checkpoints"]:
        ppl = row["perplexity"].get("heldout", row["perplexity"].get("nonmembers"))
        lines.append(f"| {row['condition']} | {row['epoch']} | {ppl:.2f} | "
                     + " | ".join(f"{row['auc'][n]:.3f}" for n in names) + " |")
    if roc_file:
        lines += ["", f"![ROC curves]({roc_file})"]
    lines += ["", *membership_control_lines(report), *training_data_lines(report)]
    lines += compute_lines(report)
    lines += ["## Wall time per stage (s)", "", "| stage | seconds |", "|---|---|"]
    lines += [f"| {name} | {secs:.1f} |" for name, secs in sorted(report["stage_seconds"].items())]
    return "\n".join(lines) + "\n"


def _condition_label(report: dict[str, Any], condition: str) -> str:
    epoch = report["table"][report["attack_names"][0]][condition]["epoch"]
    return condition if condition == "base" else f"{condition} (ep {epoch})"


def _generation_lines(generation: dict[str, Any]) -> list[str]:
    lines = generation_sentences(generation)
    return [*lines, ""] if lines else []


def generation_sentences(generation: dict[str, Any]) -> list[str]:
    """One sentence per generated condition (generation is keyed by condition): counts and the engine
    that wrote the data (dtype, device, and the precision check's numbers where one ran)."""
    out = []
    for condition, info in generation.items():
        stats = info.get("stats") or {}
        keys = [k for k in ("n_accepted", "n_candidates", "n_rounds", "n_out", "n_in", "seconds") if k in stats]
        detail = ", ".join(f"{k}={stats[k]:g}" if isinstance(stats[k], float) else f"{k}={stats[k]}" for k in keys)
        engine = engine_phrase(stats.get("engine") or {})
        out.append(f"Generated training data ({condition}): task {info.get('task')} ({detail}){engine}.")
    return out


def engine_phrase(engine: dict[str, Any]) -> str:
    """E.g. "; written by vllm float32 on cpu" (+ the reduced-precision check's verdict)."""
    if not engine:
        return ""
    phrase = f"; written by {engine.get('engine')} {engine.get('dtype')} on {engine.get('device')}"
    check = engine.get("precision_check")
    if check:
        phrase += (f" (checked against transformers {check.get('dtype')}: mean |delta log-prob| "
                   f"{check.get('mean_abs_logprob_diff')}, greedy text differed on {check.get('greedy_divergences')}: "
                   "reduced precision flips near-ties, so this data may differ on another CPU)")
    return phrase


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f}%"


def plot_condition_rocs(curves: dict[str, dict[str, dict]], path: Path) -> Path:
    """One panel per attack, one curve per condition (log-scaled FPR). `curves`: condition ->
    attack -> {fpr, tpr, auc} as written in each MIA job's metrics.json."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({name for by_attack in curves.values() for name in by_attack})
    cols = min(3, len(names))
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4 * rows), squeeze=False)
    try:
        for ax, name in zip(axes.flat, names):
            for condition, by_attack in curves.items():
                if name in by_attack:
                    m = by_attack[name]
                    ax.plot(m["fpr"], m["tpr"], label=f"{condition} ({m['auc']:.3f})")
            ax.plot([1e-4, 1], [1e-4, 1], "k--", linewidth=0.8)
            ax.set(xscale="log", yscale="log", xlim=(1e-4, 1), ylim=(1e-4, 1.05), title=name,
                   xlabel="FPR", ylabel="TPR")
            ax.legend(loc="lower right", fontsize="small")
        for ax in list(axes.flat)[len(names):]:
            ax.axis("off")
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
    return path
