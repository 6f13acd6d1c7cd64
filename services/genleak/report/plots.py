"""Report figures as PNG bytes (for report.html, which embeds them as data URIs).

Every function takes the report dict (report.json's content) and returns PNG bytes, or None
when there is nothing to draw. Figures are built on matplotlib's object API (`Figure`, Agg
canvas), not pyplot: no global figure state, so reports rendered in parallel jobs do not mix.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import Any

DPI = 90


def last_attack_per_condition(attacks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """condition -> its last attacked checkpoint (ties: the later entry), as report.md's temperature table."""
    last: dict[str, dict[str, Any]] = {}
    for attack in attacks:
        if attack["epoch"] >= last.get(attack["condition"], {}).get("epoch", -1):
            last[attack["condition"]] = attack
    return last


def temp_key(t: float) -> str:
    """The key a temperature has in an attack's counts (markdown.py writes str(float(t)))."""
    return str(float(t))


def render_png(n_panels: int, draw: Callable[[Any, int], None], panel_size: tuple[float, float] = (4.2, 3.4),
               max_cols: int = 3) -> bytes:
    """A grid of `n_panels` axes; `draw(ax, i)` fills panel i. Returns the PNG bytes."""
    from matplotlib.figure import Figure

    cols = max(1, min(max_cols, n_panels))
    rows = max(1, math.ceil(n_panels / cols))
    fig = Figure(figsize=(panel_size[0] * cols, panel_size[1] * rows))
    axes = fig.subplots(rows, cols, squeeze=False).flat
    for i, ax in enumerate(axes):
        if i < n_panels:
            draw(ax, i)
        else:
            ax.axis("off")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _integer_ticks(axis) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _count_axis(ax) -> None:
    """Counts: integer ticks from 0 (an all-zero plot still shows 0..1, not -0.05..0.05)."""
    ax.set_ylim(0, max(1.0, ax.get_ylim()[1]))
    _integer_ticks(ax.yaxis)


def extraction_bars(report: dict[str, Any]) -> bytes | None:
    """Scenario A: best count (over temperature x epoch) per template, a bar per condition;
    one panel for fuzzy successes, one for exact extractions."""
    templates, conditions = list(report.get("templates") or []), list(report.get("conditions") or [])
    if not templates or not conditions:
        return None
    metrics = [m for m in ("fuzzy", "exact") if m in report.get("best", {})]
    width = 0.8 / len(conditions)

    def draw(ax, i: int) -> None:
        table = report["best"][metrics[i]]
        for j, condition in enumerate(conditions):
            heights = [(table.get(t, {}).get(condition) or {}).get("count", 0) for t in templates]
            xs = [k + (j - (len(conditions) - 1) / 2) * width for k in range(len(templates))]
            ax.bar(xs, heights, width=width, label=condition)
        ax.set_xticks(range(len(templates)), templates)
        _count_axis(ax)
        ax.set(title=f"{metrics[i]} (best over T x epoch)", xlabel="template", ylabel="successes")
        ax.legend(fontsize="small")

    return render_png(len(metrics), draw, panel_size=(5.0, 3.6)) if metrics else None


def extraction_temperature_lines(report: dict[str, Any]) -> bytes | None:
    """Scenario A: fuzzy successes vs temperature, a panel per template, a line per condition
    (each condition's last attacked epoch)."""
    templates, temps = list(report.get("templates") or []), list(report.get("temperatures") or [])
    last = last_attack_per_condition(report.get("attacks") or [])
    conditions = [c for c in report.get("conditions") or [] if c in last]
    if not templates or not temps or not conditions:
        return None

    def draw(ax, i: int) -> None:
        template = templates[i]
        for condition in conditions:
            counts = last[condition]["counts"].get(template, {})
            ys = [counts.get(temp_key(t), {}).get("fuzzy", math.nan) for t in temps]
            ax.plot(temps, ys, marker="o", label=f"{condition} (ep {last[condition]['epoch']})")
        ax.set(title=f"template {template}", xlabel="temperature", ylabel="fuzzy successes")
        _count_axis(ax)
        ax.legend(fontsize="small")

    return render_png(len(templates), draw)


def membership_epoch_lines(report: dict[str, Any]) -> bytes | None:
    """Scenario B: ROC-AUC vs epoch, a panel per attack plus one for held-out perplexity, a line
    per condition; base (epoch 0, untuned) is a dashed horizontal reference."""
    rows = report.get("checkpoints") or []
    names = list(report.get("attack_names") or [])
    if not rows or not names:
        return None
    panels = [*names, "perplexity"]

    def value(row: dict[str, Any], panel: str) -> float:
        if panel == "perplexity":
            ppl = row.get("perplexity") or {}
            return ppl.get("heldout", ppl.get("nonmembers", math.nan))
        return row["auc"].get(panel, math.nan)

    def draw(ax, i: int) -> None:
        panel = panels[i]
        for condition in report.get("conditions") or []:
            points = sorted((r["epoch"], value(r, panel)) for r in rows if r["condition"] == condition)
            if not points:
                continue
            if condition == "base":
                ax.axhline(points[-1][1], color="k", linestyle="--", linewidth=0.9, label="base")
            else:
                ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=condition)
        ax.set(title=panel if panel == "perplexity" else f"{panel}: ROC-AUC", xlabel="epoch",
               ylabel="held-out perplexity" if panel == "perplexity" else "ROC-AUC")
        _integer_ticks(ax.xaxis)
        ax.legend(fontsize="small")

    return render_png(len(panels), draw)
