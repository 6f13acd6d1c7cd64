"""The tables that compare generators in a `generators:` report (genleak.report.generators), per scenario.

Each takes the sections ([{"name", "model", ..., "report"}], each report the scenario's own, built on the
shared base/original and that generator's conditions) and returns tables as {"title", "note", "header",
"rows"}: base and original once (generator "-"), then every generated condition of every generator, so
a row reads against the two above it.
"""

from __future__ import annotations

from typing import Any

from genleak.report.conditions import GENERATED_CONDITIONS
from genleak.report.scenarios import Table
from genleak.report.stats import difference_cell, p_value_cell

SHARED = "-"
SHARED_CONDITIONS = ("base", "original")


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f}%"


def _generated(condition: str) -> bool:
    """A generated condition, or one setting of it in a sweep (`generated [lr=0.001]`)."""
    return condition.split(" [")[0] in GENERATED_CONDITIONS


# ---- scenario A ----

def extraction_generator_tables(sections: list[dict[str, Any]]) -> list[Table]:
    """Scenario A: the best extraction counts (fuzzy, exact) per template with the change vs base; the
    comparison vs base at one temperature and the last epoch (no selection); real PII in the samples."""
    first = sections[0]["report"]
    templates = list(first["templates"])
    tables = [_best_table(sections, templates, metric, title) for metric, title in
              (("fuzzy", "Fuzzy successes"), ("exact", "Exact extractions"))]
    comparison = _comparison_table(sections)
    if comparison:
        tables.append(comparison)
    leakage = _leakage_table(sections)
    if leakage:
        tables.append(leakage)
    return tables


def _best_table(sections: list[dict[str, Any]], templates: list[str], metric: str, title: str) -> Table:
    rows = []
    first = sections[0]["report"]
    for condition in (c for c in SHARED_CONDITIONS if c in first["conditions"]):
        rows.append([SHARED, condition, *(_best_cell(first, metric, t, condition) for t in templates)])
    for section in sections:
        report = section["report"]
        for condition in (c for c in report["conditions"] if _generated(c)):
            rows.append([section["name"], condition, *(_best_cell(report, metric, t, condition) for t in templates)])
    return {"title": f"{title} per generator: maximum over temperature x epoch (the paper's aggregation)",
            "note": "Each cell: the best count over every attacked epoch and temperature (for base: over the "
                    "temperatures), then its change vs base; each generator's section has the tables behind it.",
            "header": ["generator", "condition", *templates], "rows": rows}


def _best_cell(report: dict[str, Any], metric: str, template: str, condition: str) -> str:
    cell = report["best"][metric].get(template, {}).get(condition)
    if cell is None:
        return "-"
    if condition == "base":
        return str(cell["count"])
    change = report["relative_change_vs_base"][metric].get(template, {}).get(condition)
    return f"{cell['count']} ({_percent(change)})" if "base" in report["conditions"] else str(cell["count"])


def _comparison_table(sections: list[dict[str, Any]]) -> Table | None:
    first = sections[0]["report"]
    rows = [[SHARED, *_comparison_cells(r)] for r in (first.get("comparison") or {}).get("fuzzy") or []
            if not _generated(r["condition"])]
    for section in sections:
        rows += [[section["name"], *_comparison_cells(r)]
                 for r in (section["report"].get("comparison") or {}).get("fuzzy") or [] if _generated(r["condition"])]
    if not rows:
        return None
    return {"title": f"Fuzzy successes per generator at T={first['comparison_temperature']:g}, last epoch (no "
                     "selection): vs base over the same people",
            "note": "difference = tuned - base successes with a 95 % bootstrap interval (people resampled); p = exact "
                    "McNemar test on the people only one model extracted; * = significant at 0.05.",
            "header": ["generator", "template", "condition", "epoch", "base", "tuned", "difference [95% CI]",
                       "McNemar p"], "rows": rows}


def _comparison_cells(row: dict[str, Any]) -> list[Any]:
    return [row["template"], row["condition"], row["epoch"], row["base"], row["tuned"], difference_cell(row),
            p_value_cell(row)]


def _leakage_table(sections: list[dict[str, Any]]) -> Table | None:
    """Real values (of the private corpus's people) in each model's unconditioned samples, per entity type."""
    def sampled(report: dict[str, Any]) -> list[dict[str, Any]]:
        return [s for s in report.get("leakage") or [] if "unconditioned" in s.get("sources", {})]

    first = sampled(sections[0]["report"])
    if not first:
        return None
    entities = list(first[0]["sources"]["unconditioned"]["entities"])
    rows = [[SHARED, _scan_label(s), *_leak_cells(s, entities)] for s in first if not _generated(s["condition"])]
    for section in sections:
        rows += [[section["name"], _scan_label(s), *_leak_cells(s, entities)] for s in sampled(section["report"])
                 if _generated(s["condition"])]
    return {"title": f"Untargeted PII leakage per generator ({first[0]['sources']['unconditioned']['n_texts']} "
                     "unconditioned samples per model, last epoch; Presidio)",
            "note": "real values of the private corpus's people found in the samples (distinct values in brackets); "
                    "not in FT = of those, absent from that model's fine-tuning data.",
            "header": ["generator", "condition", *(f"{e}: real" for e in entities),
                       *(f"{e}: real, not in FT" for e in entities)], "rows": rows}


def _scan_label(scan: dict[str, Any]) -> str:
    label = scan.get("setting_label")
    return f"{scan['condition']} [{label}]" if label else scan["condition"]


def _leak_cells(scan: dict[str, Any], entities: list[str]) -> list[str]:
    found = scan["sources"]["unconditioned"]["entities"]
    real = [f"{found[e]['real']} ({found[e]['real_unique']})" if e in found else "-" for e in entities]
    not_in_ft = ["-" if scan["condition"] == "base" or e not in found else
                 f"{found[e]['real_not_in_finetune']} ({found[e]['real_not_in_finetune_unique']})" for e in entities]
    return real + not_in_ft


# ---- scenario B ----

def membership_generator_tables(sections: list[dict[str, Any]]) -> list[Table]:
    """Scenario B: each attack's ROC-AUC at every condition's last attacked epoch, with the change vs base."""
    first = sections[0]["report"]
    names = list(first["attack_names"])
    rows = [[SHARED, c, *(_auc_cell(first, n, c) for n in names)] for c in first["conditions"] if not _generated(c)]
    for section in sections:
        report = section["report"]
        rows += [[section["name"], c, *(_auc_cell(report, n, c) for n in names)] for c in report["conditions"]
                 if _generated(c)]
    return [{"title": "ROC-AUC per generator [95% bootstrap CI], last attacked epoch",
             "note": "0.5 = no membership leakage; higher = more. In brackets: the interval, then the change vs "
                     "base; each generator's section has the TPR tables and every checkpoint.",
             "header": ["generator", "condition", *names], "rows": rows}]


def _auc_cell(report: dict[str, Any], attack: str, condition: str) -> str:
    cell = report["table"].get(attack, {}).get(condition)
    if cell is None:
        return "-"
    text = f"{cell['auc']:.3f} [{cell['auc_ci'][0]:.3f}, {cell['auc_ci'][1]:.3f}]"
    change = (report.get("relative_auc_change_vs_base") or {}).get(attack, {}).get(condition)
    return text if condition == "base" or "base" not in report["conditions"] else f"{text} ({_percent(change)})"
