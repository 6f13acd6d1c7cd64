"""Condition vs base on the same people, without selection: paired tests and intervals.

Extraction counts of a hundred people move by several people from sampling noise alone, and the
paper's "best over temperature x epoch" is a maximum over more draws for a tuned model than for
the base. So every comparison here fixes one temperature and each condition's last epoch, pairs
the base and the tuned model over the same queried people (the attacker reports who was hit),
and gives:
- the difference in successes with a 95 % bootstrap interval (people resampled with replacement,
  the same resample for both models, 2,000 draws, seeded);
- the exact McNemar test on the discordant people (hit by one model only): a two-sided binomial
  test of b against b + c at 1/2; significant at 0.05 is marked.
Beside them, `mean_and_spread`: the mean and spread over a sweep's seeds (the per-setting tables).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import binomtest

from genleak.report.conditions import condition_label

PAPER_TEMPERATURE = 0.2  # the official code's "optimal" temperature
N_BOOTSTRAP = 2000
ALPHA = 0.05


def comparison_temperature(temperatures: list[float]) -> float:
    """The paper's 0.2 when it was swept, else the lowest temperature (the closest to greedy)."""
    return PAPER_TEMPERATURE if PAPER_TEMPERATURE in temperatures else min(temperatures)


def compare_to_base(attacks: list[dict[str, Any]], templates: list[str], metric: str, temperature: float,
                    seed: int = 0) -> list[dict[str, Any]]:
    """One row per template and tuned condition (setting) at its last epoch; [] without per-person hits."""
    base = [a for a in attacks if a["condition"] == "base" and a.get("hits")]
    if not base:
        return []
    base = max(base, key=lambda a: a["epoch"])
    rows = []
    for label, attack in _last_epochs(attacks).items():
        for template in templates:
            x0, x1 = (hit_vector(a, template, temperature, metric) for a in (base, attack))
            if x0 is None or x1 is None:
                continue
            rows.append({"template": template, "condition": label, "epoch": attack["epoch"], "metric": metric,
                         "temperature": temperature, **paired_comparison(x0, x1, seed)})
    return rows


def paired_comparison(base: np.ndarray, tuned: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """Counts, difference with its bootstrap CI, and the exact McNemar p-value for 0/1 vectors."""
    only_base, only_tuned = int(np.sum(base & ~tuned)), int(np.sum(~base & tuned))
    discordant = only_base + only_tuned
    p_value = 1.0 if discordant == 0 else float(binomtest(only_tuned, discordant, 0.5).pvalue)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, base.size, size=(N_BOOTSTRAP, base.size))
    differences = tuned[draws].sum(axis=1) - base[draws].sum(axis=1)
    low, high = np.percentile(differences, [100 * ALPHA / 2, 100 * (1 - ALPHA / 2)])
    return {"n": int(base.size), "base": int(base.sum()), "tuned": int(tuned.sum()),
            "difference": int(tuned.sum() - base.sum()), "ci": [float(low), float(high)],
            "only_base": only_base, "only_tuned": only_tuned, "p_value": p_value,
            "significant": bool(p_value < ALPHA)}


def difference_cell(row: dict[str, Any]) -> str:
    mark = " *" if row["significant"] else ""
    return f"{row['difference']:+d} [{row['ci'][0]:+.0f}, {row['ci'][1]:+.0f}]{mark}"


def p_value_cell(row: dict[str, Any]) -> str:
    return f"{row['p_value']:.3g}"


def _last_epochs(attacks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    last: dict[str, dict[str, Any]] = {}
    for attack in attacks:
        if attack["condition"] == "base" or not attack.get("hits"):
            continue
        label = condition_label(attack)
        if attack["epoch"] >= last.get(label, {}).get("epoch", -1):
            last[label] = attack
    return last


def hit_vector(attack: dict[str, Any], template: str, temperature: float, metric: str) -> np.ndarray | None:
    by_temperature = attack["hits"].get(template, {})
    key = next((k for k in by_temperature if float(k) == temperature), None)
    if key is None:
        return None
    vector = np.zeros(int(attack["n_targets"]), dtype=bool)
    vector[[int(i) for i in by_temperature[key][metric]]] = True
    return vector


def mean_and_spread(values: Sequence[float]) -> dict[str, float | int]:
    """Mean, sample standard deviation (0 for one value), min, max and n."""
    values = [float(v) for v in values]
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "n": len(values)}
