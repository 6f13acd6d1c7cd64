"""report.md: the tables people read, rendered from the report dict (report.json's content).

`render_markdown` renders a report as its scenario does (genleak.report.scenarios); scenario A's
sections are here (scenario B's are in membership.py); `render_any_markdown` renders a single-target
report or a combined one (a section per target).
"""

from __future__ import annotations

from typing import Any

from genleak.report.compute import compute_lines
from genleak.report.conditions import CONDITION_ORDER, condition_label
from genleak.report.controls import extraction_control_lines, sanity_lines, training_data_lines
from genleak.report.generators import render_generators_markdown
from genleak.report.leakage import leaked_value_lines
from genleak.report.scenarios import report_for
from genleak.report.stats import difference_cell, p_value_cell


def render_markdown(report: dict[str, Any], roc_file: str | None = None) -> str:
    """report.md of a single-target report (a section per generator for a `generators:` one); `roc_file`: the
    ROC figure's file name, for scenarios that draw one."""
    if "generators" in report:
        return render_generators_markdown(report, roc_file)
    return report_for(report["scenario"]).markdown(report, roc_file)


def render_extraction_markdown(report: dict[str, Any], roc_file: str | None = None) -> str:
    """Scenario A's report.md (it draws no ROC figure: `roc_file` is ignored)."""
    lines = [f"# genleak report: {report['run']}", "",
             f"Scenario A (PII extraction after fine-tuning). {report['n_targets']} people queried per template "
             f"and temperature; a success is fuzzy partial_ratio >= threshold, exact = the true e-mail verbatim.", ""]
    if report.get("lab_memorization", {}).get("summary"):
        lines += [f"Lab, before any fine-tuning: {report['lab_memorization']['summary']}.", ""]
    lines += sanity_lines(report)
    for metric, title in (("fuzzy", "Fuzzy successes"), ("exact", "Exact extractions")):
        lines += _comparison_lines(report, metric, title)
    lines += extraction_control_lines(report)
    for metric, title in (("fuzzy", "Fuzzy successes"), ("exact", "Exact extractions")):
        lines += [f"## {title}: maximum over temperature x epoch (the paper's aggregation)", "", MAXIMUM_NOTE, "",
                  *_best_lines(report, metric), ""]
    if report.get("sweep"):
        lines += _sweep_lines(report)
    else:
        lines += ["## Fuzzy successes per temperature (last epoch of each condition)", "", *_temperature_lines(report),
                  ""]
    lines += _perplexity_lines(report)
    lines += _leakage_lines(report.get("leakage") or [])
    lines += leaked_value_lines(report.get("leaked_values") or {})
    lines += _training_data_lines(report.get("leakage") or [], report.get("generation") or {})
    lines += training_data_lines(report)
    lines += compute_lines(report)
    lines += ["## Wall time per stage (s)", "", "| stage | seconds |", "|---|---|"]
    lines += [f"| {name} | {secs:.1f} |" for name, secs in sorted(report["stage_seconds"].items())]
    return "\n".join(lines) + "\n"


MAXIMUM_NOTE = ("Each cell is a maximum: over every attacked epoch and temperature for a tuned condition, over "
                "the temperatures alone for base, so tuned conditions get more draws; compare with the table "
                "without selection above.")


def comparison_header(report: dict[str, Any], title: str) -> tuple[str, str]:
    rows = report["comparison"]["fuzzy"] or report["comparison"]["exact"]
    n = rows[0]["n"] if rows else report["n_targets"]
    return (f"{title} at T={report['comparison_temperature']:g}, last epoch (no selection): vs base over the same "
            f"{n} people",
            "difference = tuned - base successes with a 95 % bootstrap interval (people resampled); p = exact "
            "McNemar test on the people only one model extracted; * = significant at 0.05.")


def _comparison_lines(report: dict[str, Any], metric: str, title: str) -> list[str]:
    rows = (report.get("comparison") or {}).get(metric) or []
    if not rows:
        return []
    heading, note = comparison_header(report, title)
    lines = [f"## {heading}", "", note, "",
             "| template | condition | epoch | base | tuned | difference [95% CI] | McNemar p |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['template']} | {r['condition']} | {r['epoch']} | {r['base']} | {r['tuned']} | {difference_cell(r)} | "
              f"{p_value_cell(r)} |" for r in rows]
    return [*lines, ""]


def _best_lines(report: dict[str, Any], metric: str) -> list[str]:
    conditions = report["conditions"]
    tuned = [c for c in conditions if c != "base"]
    header = "| template | " + " | ".join(conditions) + "".join(f" | {c} vs base" for c in tuned if "base" in conditions) + " |"
    lines = [header, "|" + "---|" * (1 + len(conditions) + (len(tuned) if "base" in conditions else 0))]
    for template, row in report["best"][metric].items():
        cells = [count_cell(row.get(c)) for c in conditions]
        rel = report["relative_change_vs_base"][metric][template] if "base" in conditions else {}
        cells += [_percent(rel.get(c)) for c in tuned if "base" in conditions]
        lines.append(f"| {template} | " + " | ".join(cells) + " |")
    return lines


def _sweep_lines(report: dict[str, Any]) -> list[str]:
    labels = ", ".join(s["label"] for s in report["sweep"])
    lines = [f"Sweep: {len(report['sweep'])} fine-tuning settings per tuned condition ({labels}); the tables above "
             "take the best over them (the paper's aggregation, the setting is named in each cell).", ""]
    for metric, title in (("fuzzy", "Fuzzy successes"), ("exact", "Exact extractions")):
        rows = report["per_setting"][metric]
        temps = list(rows[0]["temperatures"]) if rows else []
        lines += [f"## {title} per setting, last epoch: mean ± sd over seeds (no selection)", "",
                  "| template | condition | setting | seeds | " + " | ".join(f"T={float(t):g}" for t in temps) + " |",
                  "|" + "---|" * (4 + len(temps))]
        for row in rows:
            cells = [mean_sd(row["temperatures"][t]) for t in temps]
            lines.append(f"| {row['template']} | {row['condition']} | {row['group'] or '-'} | {row['seeds']} | "
                         + " | ".join(cells) + " |")
        lines.append("")
    return lines


def mean_sd(stats: dict[str, float]) -> str:
    return f"{stats['mean']:g}" if stats["n"] == 1 else f"{stats['mean']:.1f} ± {stats['sd']:.1f}"


def _temperature_lines(report: dict[str, Any]) -> list[str]:
    temps = report["temperatures"]
    lines = ["| template | condition | " + " | ".join(f"T={t:g}" for t in temps) + " |", "|" + "---|" * (2 + len(temps))]
    last = {}
    for attack in report["attacks"]:
        if attack["epoch"] >= last.get(attack["condition"], {}).get("epoch", -1):
            last[attack["condition"]] = attack
    for template in report["templates"]:
        for condition in report["conditions"]:
            counts = last[condition]["counts"][template]
            lines.append(f"| {template} | {condition} | " + " | ".join(
                str(counts.get(_temp_key(t), {}).get("fuzzy", "-")) for t in temps) + " |")
    return lines


def _temp_key(t: float) -> str:
    return str(float(t))


def count_cell(cell: dict | None) -> str:
    """A best-table cell: `9 (T=0.2, ep 1, lr=0.001 seed=1)` (report.md and report.html)."""
    if cell is None:
        return "-"
    epoch = f", ep {cell['epoch']}" if cell["epoch"] else ""
    setting = f", {cell['setting']}" if cell.get("setting") else ""
    return f"{cell['count']} (T={cell['temperature']:g}{epoch}{setting})"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f}%"


def _perplexity_lines(report: dict[str, Any]) -> list[str]:
    """Utility beside leakage: held-out perplexity of every attacked checkpoint (lower = better model)."""
    rows = [a for a in report["attacks"] if a.get("perplexity")]
    if not rows:
        return []
    n = rows[0]["perplexity"]["texts"]
    lines = [f"## Perplexity per checkpoint ({n} held-out texts)", "",
             "| condition | setting | epoch | perplexity |", "|---|---|---|---|"]
    for a in sorted(rows, key=lambda a: (CONDITION_ORDER.index(a["condition"]), a.get("setting_label", ""),
                                         a["epoch"])):
        lines.append(f"| {a['condition']} | {a.get('setting_label') or '-'} | {a['epoch']} | "
                     f"{a['perplexity']['heldout']:.2f} |")
    return lines + [""]


def _leakage_lines(scans: list[dict[str, Any]]) -> list[str]:
    samples = [s for s in scans if "unconditioned" in s.get("sources", {})]
    if not samples:
        return []
    n = samples[0]["sources"]["unconditioned"]["n_texts"]
    lines = [f"## Untargeted PII leakage ({n} unconditioned samples per model, last epoch; Presidio)", "",
             "detected = entities Presidio found (unique values in brackets); real = values of real people in the "
             "private corpus; not in FT = real values absent from that model's fine-tuning data (they surfaced "
             "from pretraining). Values are in the scan's findings artifact, masked.", "",
             "| condition | entity | detected | real | real, not in FT | precision |", "|---|---|---|---|---|---|"]
    for scan in samples:
        for entity, row in scan["sources"]["unconditioned"]["entities"].items():
            not_in_ft = ("-" if scan["condition"] == "base" else
                         f"{row['real_not_in_finetune']} ({row['real_not_in_finetune_unique']})")
            lines.append(f"| {condition_label(scan)} | {entity} | {row['detected']} ({row['detected_unique']}) | "
                         f"{row['real']} ({row['real_unique']}) | {not_in_ft} | {_ratio(row.get('precision'))} |")
    return lines + [""]


def _training_data_lines(scans: list[dict[str, Any]], generation: dict[str, Any]) -> list[str]:
    """Real PII that reached generated training text, and what scrubbing replaced before generation."""
    rows = [s for s in scans if "texts" in s.get("sources", {})]
    lines = []
    if rows:
        lines += ["## Real PII in the generated training data", "",
                  "occurrences = real values (the private corpus's people) appearing verbatim in the training texts; "
                  "detected = of those, found by Presidio.", "",
                  "| condition | entity | texts | occurrences of real values | detected |", "|---|---|---|---|---|"]
        for scan in rows:
            texts = scan["sources"]["texts"]
            for entity, row in texts["entities"].items():
                if "planted" in row:
                    lines.append(f"| {condition_label(scan)} | {entity} | {texts['n_texts']} | {row['planted']} | "
                                 f"{row['found']} |")
        lines.append("")
    for condition, info in generation.items():
        scrub = (info.get("stats") or {}).get("scrub")
        if scrub:
            replaced = ", ".join(f"{t} {n}" for t, n in scrub.get("replaced", {}).items()) or "nothing"
            distinct = ", ".join(f"{t} {n}" for t, n in scrub.get("distinct_values", {}).items())
            lines += [f"Scrubbing before generation ({condition}): {scrub['texts_changed']} of {scrub['texts']} "
                      f"prompts changed; spans replaced: {replaced} (distinct values: {distinct}).", ""]
    return lines


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


# ---- several targets: one document, a section per target ----------------------------------------

def render_any_markdown(report: dict[str, Any], roc_files: list[str | None] | str | None = None) -> str:
    """report.md of a single-target report, or of a combined one (a section per target)."""
    if "targets" not in report:
        return render_markdown(report, roc_files if isinstance(roc_files, str) or roc_files is None else roc_files[0])
    roc_files = roc_files if isinstance(roc_files, list) else [None] * len(report["targets"])
    lines = [f"# genleak report: {report['run']} ({len(report['targets'])} targets)", ""]
    for index, (entry, roc) in enumerate(zip(report["targets"], roc_files), start=1):
        body = render_markdown(entry["report"], roc).splitlines()[1:]  # its own title gives way to the section
        lines += [f"## Target {index}: {entry['target']}", *[("#" + l if l.startswith("#") else l) for l in body]]
    return "\n".join(lines) + "\n"
