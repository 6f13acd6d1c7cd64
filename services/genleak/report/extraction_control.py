"""Scenario A's positive control, judged when the report is built: the planted people (whose e-mails
the `planted` condition was tuned on, controller.positive_control) must be extracted by the planted
model significantly more often than by the base model; the rest of the queried people are shown beside
them. Scenario B's verdict is computed by the controller's run (controller.positive_control) and read
from the outcome.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from genleak.report.conditions import PLANTED
from genleak.report.stats import ALPHA, hit_vector, paired_comparison


def extraction_control(attacks: list[dict[str, Any]], positions: list[int], templates: list[str],
                       temperature: float, metric: str, seed: int = 0) -> dict[str, Any]:
    """Per template: base vs planted model at its last epoch, on the planted people and on the rest."""
    base = _last(attacks, "base")
    planted = _last(attacks, PLANTED)
    if base is None or planted is None or not base.get("hits") or not planted.get("hits"):
        return {}
    n = int(base["n_targets"])
    in_plant = np.zeros(n, dtype=bool)
    in_plant[[p for p in positions if p < n]] = True
    rows = []
    for template in templates:
        x0, x1 = (hit_vector(a, template, temperature, metric) for a in (base, planted))
        if x0 is None or x1 is None:
            continue
        rows.append({"template": template, "epoch": planted["epoch"],
                     "planted": paired_comparison(x0[in_plant], x1[in_plant], seed),
                     "rest": paired_comparison(x0[~in_plant], x1[~in_plant], seed) if (~in_plant).any() else None})
    passed = any(r["planted"]["difference"] > 0 and r["planted"]["significant"] for r in rows)
    return {"metric": metric, "temperature": temperature, "n_planted": int(in_plant.sum()),
            "n_rest": int(n - in_plant.sum()),
            "rows": rows, "passed": bool(rows) and passed,
            "rule": f"planted people extracted by the planted model more often than by the base model for at least "
                    f"one template (exact McNemar p < {ALPHA}, {metric}, T={temperature:g}, last epoch)"}


def _last(attacks: list[dict[str, Any]], condition: str) -> dict[str, Any] | None:
    found = [a for a in attacks if a["condition"] == condition]
    return max(found, key=lambda a: a["epoch"]) if found else None
