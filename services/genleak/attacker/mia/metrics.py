"""MIA metrics over attack scores (higher = member): ROC-AUC with a bootstrap CI, TPR at low
FPR, PR-AUC, and ROC points for plots.

Two rules exist for "TPR at x% FPR" and two PR-AUCs; genleak reports both, by name:
- `tpr_at_fpr` is MIMIR's (run.py): on sklearn's ROC curve (intermediate points dropped), the TPR of
  the last point whose FPR is strictly below x. `tpr_at_fpr_at_most` is the largest TPR of any
  threshold whose FPR is at most x.
- `pr_auc` is average precision with members as the positive class. `pr_auc_mimir` is MIMIR's:
  non-members positive, the raw attack score (lower = member) as the prediction, the trapezoidal
  area under the precision-recall curve.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from genleak.core.errors import InvalidSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MIAMetrics:
    auc: float
    auc_ci: tuple[float, float]
    tpr_at_fpr: dict[float, float]          # MIMIR's rule: FPR strictly below the target
    pr_auc: float                           # average precision, members positive
    n_members: int
    n_nonmembers: int
    fpr: list[float] = field(repr=False)
    tpr: list[float] = field(repr=False)
    tpr_at_fpr_at_most: dict[float, float] = field(default_factory=dict)  # any threshold with FPR <= target
    pr_auc_mimir: float = float("nan")      # MIMIR's: non-members positive, trapezoidal


def compute_metrics(
    member_scores: Sequence[float],
    nonmember_scores: Sequence[float],
    fprs: Sequence[float] = (0.01, 0.001),
    n_bootstrap: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
    max_curve_points: int = 500,
) -> MIAMetrics:
    members, nonmembers = _checked(member_scores, "member"), _checked(nonmember_scores, "nonmember")
    labels = np.r_[np.ones(members.size), np.zeros(nonmembers.size)]
    scores = np.r_[members, nonmembers]
    # Keep every threshold: dropping "intermediate" points could hide the exact TPR at a target FPR.
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    mimir_fpr, mimir_tpr, _ = roc_curve(labels, scores)
    curve_fpr, curve_tpr = _downsample(fpr, tpr, max_curve_points)
    return MIAMetrics(
        auc=float(roc_auc_score(labels, scores)),
        auc_ci=_bootstrap_auc_ci(members, nonmembers, n_bootstrap, seed, ci_level),
        tpr_at_fpr={float(f): tpr_below(mimir_fpr, mimir_tpr, f) for f in fprs},
        tpr_at_fpr_at_most={float(f): tpr_at(fpr, tpr, f) for f in fprs},
        pr_auc=float(average_precision_score(labels, scores)),
        pr_auc_mimir=_pr_auc_mimir(labels, scores),
        n_members=int(members.size),
        n_nonmembers=int(nonmembers.size),
        fpr=curve_fpr,
        tpr=curve_tpr,
    )


def tpr_at(fpr: np.ndarray, tpr: np.ndarray, target_fpr: float) -> float:
    """Largest TPR reachable by a threshold whose FPR does not exceed `target_fpr`."""
    allowed = fpr <= target_fpr + 1e-12
    return float(tpr[allowed].max()) if allowed.any() else 0.0


def tpr_below(fpr: np.ndarray, tpr: np.ndarray, target_fpr: float) -> float:
    """MIMIR's rule: the TPR of the last ROC point whose FPR is strictly below `target_fpr`."""
    below = np.flatnonzero(fpr < target_fpr)
    return float(tpr[below[-1]]) if below.size else 0.0


def _pr_auc_mimir(labels: np.ndarray, scores: np.ndarray) -> float:
    precision, recall, _ = precision_recall_curve(1 - labels, -scores)
    return float(auc(recall, precision))


def _checked(scores: Sequence[float], what: str) -> np.ndarray:
    arr = np.asarray(scores, dtype=np.float64).ravel()
    if arr.size == 0:
        raise InvalidSpec(f"no {what} scores", field=f"{what}_scores")
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise InvalidSpec(f"{bad} {what} score(s) are nan/inf (e.g. texts under 2 tokens)", field=f"{what}_scores")
    return arr


def _bootstrap_auc_ci(
    members: np.ndarray, nonmembers: np.ndarray, n_bootstrap: int, seed: int, ci_level: float
) -> tuple[float, float]:
    """Percentile CI; each class is resampled separately so every replicate has both classes."""
    if n_bootstrap <= 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    labels = np.r_[np.ones(members.size), np.zeros(nonmembers.size)]
    aucs = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        m = rng.choice(members, members.size, replace=True)
        n = rng.choice(nonmembers, nonmembers.size, replace=True)
        aucs[b] = roc_auc_score(labels, np.r_[m, n])
    tail = (1.0 - ci_level) / 2 * 100
    low, high = np.percentile(aucs, [tail, 100 - tail])
    return (float(low), float(high))


def _downsample(fpr: np.ndarray, tpr: np.ndarray, max_points: int) -> tuple[list[float], list[float]]:
    """At most `max_points` evenly spaced ROC points, always keeping both end points."""
    if fpr.size > max_points >= 2:
        idx = np.unique(np.linspace(0, fpr.size - 1, max_points).round().astype(int))
        fpr, tpr = fpr[idx], tpr[idx]
    return [float(x) for x in fpr], [float(y) for y in tpr]


def plot_roc(curves: dict[str, MIAMetrics], path: Path) -> Path:
    """Write a ROC plot (log-scaled FPR, where low-FPR behaviour is visible) of each attack as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    try:
        for name, m in curves.items():
            ax.plot(m.fpr, m.tpr, label=f"{name} (AUC {m.auc:.3f})")
        ax.plot([1e-4, 1], [1e-4, 1], "k--", linewidth=0.8, label="chance")
        ax.set(xscale="log", yscale="log", xlim=(1e-4, 1), ylim=(1e-4, 1.05))
        ax.set(xlabel="False positive rate", ylabel="True positive rate", title="MIA ROC")
        ax.legend(loc="lower right", fontsize="small")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)
    log.info("wrote ROC plot of %d attack(s) to %s", len(curves), path)
    return path
