"""Fake stage results for the report tests (report.md, report.html, scenario A and B): one copy."""

from __future__ import annotations

MIA_SPEC = """
name: b
scenario: membership
lab: {preset: tiny}
finetune: {epochs: 2}
mia: {attacks: {loss: {}, min_k: {k: 0.2}}}
"""


def attack_result(condition: str, epoch: int, counts: tuple[int, int, int], **extra) -> dict:
    """An extraction result: template A, fuzzy/exact at T=0.2 and fuzzy at T=1.0."""
    return {"condition": condition, "epoch": epoch, "n_targets": 10,
            "counts": {"A": {"0.2": {"fuzzy": counts[0], "exact": counts[1]}, "1.0": {"fuzzy": counts[2], "exact": 0}}},
            **extra}


def scan_result(condition: str, real: int, not_in_ft: int, texts: int | None = None, **extra) -> dict:
    """A leakage scan: unconditioned samples (PERSON, EMAIL_ADDRESS) and, given `texts`, training texts."""
    row = {"detected": real + 2, "detected_unique": real + 1, "real": real, "real_unique": real,
           "real_not_in_finetune": not_in_ft, "real_not_in_finetune_unique": not_in_ft, "precision": real / (real + 2)}
    sources = {"unconditioned": {"n_texts": 200, "entities": {"PERSON": dict(row), "EMAIL_ADDRESS": dict(row)}}}
    if texts is not None:
        sources["texts"] = {"n_texts": 40, "entities": {"EMAIL_ADDRESS": {**row, "planted": texts, "found": texts}}}
    return {"condition": condition, "epoch": 2, "model": "m", "sources": sources, "findings_uri": "f", **extra}


def mia_result(condition: str, epoch: int, auc: float) -> dict:
    metrics = {"auc": auc, "auc_ci_low": auc - 0.05, "auc_ci_high": auc + 0.05, "pr_auc": auc,
               "tpr_at_fpr": {"0.01": 0.1, "0.001": 0.05}}
    return {"condition": condition, "epoch": epoch, "model": f"m-{condition}-{epoch}", "n_members": 200,
            "n_nonmembers": 200, "attacks": {"loss": metrics, "min_k": metrics},
            "perplexity": {"nonmembers": 40.0 + epoch}, "roc_uri": f"roc-{condition}-{epoch}",
            "scores_uri": "s"}
