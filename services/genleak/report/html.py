"""report.html: one self-contained page from the report dict (report.json's content): the scenario's
own sections (genleak.report.scenarios; scenario A's and B's are here), then the shared provenance.

Inline CSS, no scripts, no external URLs: plots are PNG data URIs, and a Content-Security-Policy
meta tag forbids anything else, so the file opens offline and a stray string cannot run code.
Every string taken from the report (run names, URIs, masked values, spec) is HTML-escaped.
The numbers are read from the dict, formatted as report.md formats them. The report carries counts
and masked values only; this module shows nothing the dict does not hold.
"""

from __future__ import annotations

import base64
import html
import json
import time
from collections.abc import Iterable
from typing import Any

import yaml

from genleak.report import plots as report_plots
from genleak.report.conditions import GENERATED_CONDITIONS, condition_label
from genleak.report.controls import extraction_control_lines, membership_control_lines, sanity_lines, training_data_lines
from genleak.report import generators as report_generators
from genleak.report.markdown import MAXIMUM_NOTE, comparison_header, count_cell, mean_sd
from genleak.report.membership import TPR_RULE, generation_sentences, tpr_heading
from genleak.report.scenarios import report_for
from genleak.report.stats import difference_cell, p_value_cell

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1200px;
padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #444;padding-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}
th,td{border:1px solid #bbb;padding:.25em .6em;text-align:right;vertical-align:top}
th{background:#eee}td:first-child,th:first-child{text-align:left}
td.text{text-align:left;font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
tr:nth-child(even) td{background:#fafafa}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}figcaption{font-size:.9em;color:#555}
pre{background:#f5f5f5;border:1px solid #ddd;padding:.8em;overflow:auto;font-size:.85em}
.note{color:#555;font-size:.92em}
.pass{color:#1a6b2a;font-weight:600}
.fail{color:#b00020;font-weight:700;font-size:1.1em}
"""

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def render_html(report: dict[str, Any], figures: dict[str, bytes] | None = None) -> str:
    """The whole page. `figures`: extra PNGs by file name (scenario B: {"roc.png": ...})."""
    figures = figures or {}
    if "targets" in report:  # a `targets:` spec: each target's report in its own section
        parts = []
        for index, entry in enumerate(report["targets"], start=1):
            own = {"roc.png": figures[f"roc-{index}.png"]} if f"roc-{index}.png" in figures else {}
            parts.append(f"<section class=\"target\">\n<h1>Target {index}: {esc(entry['target'])}</h1>\n"
                         + _body(entry["report"], own) + _provenance(entry["report"]) + "</section>\n")
        return _page(f"genleak report: {report['run']} ({len(report['targets'])} targets)", "".join(parts))
    return _page(f"genleak report: {report['run']}", _body(report, figures) + _provenance(report))


def _body(report: dict[str, Any], figures: dict[str, bytes]) -> str:
    if "generators" in report:
        return _generators_body(report, figures)
    return report_for(report["scenario"]).html_body(report, figures)


def _generators_body(report: dict[str, Any], figures: dict[str, bytes]) -> str:
    """A `generators:` report: the comparison across generators, then each generator's own sections (their
    headings one level down); `figures` may hold the ROC figure of every generator as "roc.png"."""
    header, rows = report_generators.describe_rows(report)
    parts = [_p(report_generators.intro(report)), _sanity(report),
             _section("Generators compared", _table(header, rows, text_cols=(1,)))]
    parts += [_section(t["title"], _p(t.get("note", ""), "note"), _table(t["header"], t["rows"]))
              for t in report_generators.comparison_tables(report)]
    if figures.get("roc.png"):
        parts.append(_section("ROC curves, every generator", _figure(
            figures["roc.png"], "ROC curves", "ROC curves (log-log), one panel per attack, each condition's last "
                                              "checkpoint; a generated condition is named by its generator.")))
    scenario = report_for(report["scenario"])
    for index, section in enumerate(report["generators"], start=1):
        body = scenario.html_body(report_generators.section_report(report, section), {})
        body = body.replace("<h2>", "<h3>").replace("</h2>", "</h3>")  # tags only: report strings are escaped
        parts.append(f"<section class=\"generator\">\n<h2>{esc(report_generators.section_title(index, section))}"
                     f"</h2>\n{body}</section>\n")
    return "".join(parts)


# ---- building blocks (every report string goes through esc) ----

def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            f"<h1>{esc(title)}</h1>\n{body}</body>\n</html>\n")


def _section(title: str, *parts: str) -> str:
    return f"<section>\n<h2>{esc(title)}</h2>\n" + "".join(p for p in parts if p) + "</section>\n"


def _p(text: str, cls: str = "") -> str:
    if not text:
        return ""
    attr = f' class="{cls}"' if cls else ""
    return f"<p{attr}>{esc(text)}</p>\n"


def _table(header: list[str], rows: Iterable[list[Any]], text_cols: Iterable[int] = ()) -> str:
    """A table; cells in `text_cols` (URIs, values) are left-aligned monospace."""
    mono = set(text_cols)
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_td(c, i in mono) for i, c in enumerate(row)) + "</tr>\n" for row in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"


def _td(value: Any, mono: bool) -> str:
    return f'<td class="text">{esc(value)}</td>' if mono else f"<td>{esc(value)}</td>"


def _figure(png: bytes | None, alt: str, caption: str = "") -> str:
    if not png:
        return ""
    data = base64.b64encode(png).decode("ascii")
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f"<figure><img src=\"data:image/png;base64,{data}\" alt=\"{esc(alt)}\">{cap}</figure>\n"


def _plot(make, report: dict[str, Any]) -> bytes | None:
    """A figure, or None when matplotlib is missing (the tables still carry every number)."""
    try:
        return make(report)
    except ImportError:
        return None


# ---- number formats (as report.md writes them) ----

def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f}%"


def _ratio(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


# ---- scenario A ----

def extraction_body(report: dict[str, Any], figures: dict[str, bytes]) -> str:
    """Scenario A's sections (its plots are drawn here from the report: `figures` is not used)."""
    intro = (f"Scenario A (PII extraction after fine-tuning). {report['n_targets']} people queried per template "
             "and temperature; a success is fuzzy partial_ratio >= threshold, exact = the true e-mail verbatim.")
    memo = (report.get("lab_memorization") or {}).get("summary")
    parts = [_p(intro), _p(f"Lab, before any fine-tuning: {memo}." if memo else "", "note"),
             _sanity(report)]
    plots = _section("Extraction plots",
                     _figure(_plot(report_plots.extraction_bars, report), "best extraction counts",
                             "Best count over temperature x epoch per template and condition."),
                     _figure(_plot(report_plots.extraction_temperature_lines, report), "fuzzy successes vs temperature",
                             "Fuzzy successes per temperature, last attacked epoch of each condition."))
    metrics = (("fuzzy", "Fuzzy successes"), ("exact", "Exact extractions"))
    tables = "".join(_comparison_section(report, metric, title) for metric, title in metrics)
    tables += _from_markdown(extraction_control_lines(report))
    tables += "".join(_section(f"{title}: maximum over temperature x epoch (the paper's aggregation)",
                               _p(MAXIMUM_NOTE, "note"), _best_table(report, metric)) for metric, title in metrics)
    if report.get("sweep"):
        temps = "".join(_section(f"{title} per setting, last epoch: mean ± sd over seeds (no selection)",
                                 _sweep_table(report, metric))
                        for metric, title in (("fuzzy", "Fuzzy successes"), ("exact", "Exact extractions")))
    else:
        temps = _section("Fuzzy successes per temperature (last epoch of each condition)", _temperature_table(report))
    leakage = report.get("leakage") or []
    temps += _perplexity_section(report)
    return ("".join(parts) + plots + tables + temps + _leakage_section(leakage)
            + _leaked_values_section(report.get("leaked_values") or {})
            + _training_data_section(leakage, report.get("generation") or {})
            + _from_markdown(training_data_lines(report)))


def _comparison_section(report: dict[str, Any], metric: str, title: str) -> str:
    rows = (report.get("comparison") or {}).get(metric) or []
    if not rows:
        return ""
    heading, note = comparison_header(report, title)
    return _section(heading, _p(note, "note"), _table(
        ["template", "condition", "epoch", "base", "tuned", "difference [95% CI]", "McNemar p"],
        [[r["template"], r["condition"], r["epoch"], r["base"], r["tuned"], difference_cell(r), p_value_cell(r)]
         for r in rows], text_cols=(1,)))


def _best_table(report: dict[str, Any], metric: str) -> str:
    conditions = report["conditions"]
    tuned = [c for c in conditions if c != "base"] if "base" in conditions else []
    header = ["template", *conditions, *(f"{c} vs base" for c in tuned)]
    rows = []
    for template, row in report["best"][metric].items():
        rel = report["relative_change_vs_base"][metric].get(template, {})
        rows.append([template, *(count_cell(row.get(c)) for c in conditions), *(_percent(rel.get(c)) for c in tuned)])
    return _table(header, rows)


def _perplexity_section(report: dict[str, Any]) -> str:
    rows = [a for a in report["attacks"] if a.get("perplexity")]
    if not rows:
        return ""
    order = {c: i for i, c in enumerate(report["conditions"])}
    rows.sort(key=lambda a: (order.get(a["condition"], 99), a.get("setting_label", ""), a["epoch"]))
    return _section(f"Perplexity per checkpoint ({rows[0]['perplexity']['texts']} held-out texts)",
                    _table(["condition", "setting", "epoch", "perplexity"],
                           [[a["condition"], a.get("setting_label") or "-", a["epoch"],
                             f"{a['perplexity']['heldout']:.2f}"] for a in rows]))


def _sweep_table(report: dict[str, Any], metric: str) -> str:
    rows = report["per_setting"][metric]
    temps = list(rows[0]["temperatures"]) if rows else []
    return _table(["template", "condition", "setting", "seeds", *(f"T={float(t):g}" for t in temps)],
                  [[r["template"], r["condition"], r["group"] or "-", r["seeds"],
                    *(mean_sd(r["temperatures"][t]) for t in temps)] for r in rows])


def _temperature_table(report: dict[str, Any]) -> str:
    temps = report["temperatures"]
    last = report_plots.last_attack_per_condition(report["attacks"])
    rows = []
    for template in report["templates"]:
        for condition in (c for c in report["conditions"] if c in last):
            counts = last[condition]["counts"].get(template, {})
            rows.append([template, condition, *(counts.get(report_plots.temp_key(t), {}).get("fuzzy", "-")
                                                for t in temps)])
    return _table(["template", "condition", *(f"T={t:g}" for t in temps)], rows)


def _leakage_section(scans: list[dict[str, Any]]) -> str:
    samples = [s for s in scans if "unconditioned" in s.get("sources", {})]
    if not samples:
        return ""
    n = samples[0]["sources"]["unconditioned"]["n_texts"]
    note = ("detected = entities Presidio found (unique values in brackets); real = values of real people in the "
            "private corpus; not in FT = real values absent from that model's fine-tuning data (they surfaced "
            "from pretraining). Values are in the scan's findings artifact, masked.")
    rows = []
    for scan in samples:
        for entity, row in scan["sources"]["unconditioned"]["entities"].items():
            not_in_ft = ("-" if scan["condition"] == "base" else
                         f"{row['real_not_in_finetune']} ({row['real_not_in_finetune_unique']})")
            rows.append([condition_label(scan), entity, f"{row['detected']} ({row['detected_unique']})",
                         f"{row['real']} ({row['real_unique']})", not_in_ft, _ratio(row.get("precision"))])
    return _section(f"Untargeted PII leakage ({n} unconditioned samples per model, last epoch; Presidio)",
                    _p(note, "note"),
                    _table(["condition", "entity", "detected", "real", "real, not in FT", "precision"], rows))


def _leaked_values_section(leaked: dict[str, list[dict]]) -> str:
    if not any(leaked.values()):
        return ""
    revealed = any(v.get("revealed") for values in leaked.values() for v in values)
    note = ("Raw values: the scans ran with leakage.reveal." if revealed else
            "Masked; ids are salted hashes (GENLEAK_PII_SALT), equal across conditions; leakage.reveal shows values.")
    rows = [[condition, v["type"], v["shown"], v["value_id"], v["count"],
             "-" if v.get("in_finetune") is None else ("yes" if v["in_finetune"] else "no")]
            for condition, values in leaked.items() for v in values]
    return _section("Real values in the samples", _p(note, "note"),
                    _table(["condition", "entity", "value", "id", "samples", "in fine-tuning data"], rows,
                           text_cols=(2, 3)))


def _training_data_section(scans: list[dict[str, Any]], generation: dict[str, Any]) -> str:
    """Real PII that reached generated training text, and what scrubbing replaced before generation."""
    rows = [[condition_label(scan), entity, scan["sources"]["texts"]["n_texts"], row["planted"], row["found"]]
            for scan in scans if "texts" in scan.get("sources", {})
            for entity, row in scan["sources"]["texts"]["entities"].items() if "planted" in row]
    table = _table(["condition", "entity", "texts", "occurrences of real values", "detected"], rows) if rows else ""
    scrubs = "".join(_p(_scrub_sentence(c, info["stats"]["scrub"]))
                     for c, info in generation.items() if (info.get("stats") or {}).get("scrub"))
    if not table and not scrubs:
        return ""
    note = ("occurrences = real values (the private corpus's people) appearing verbatim in the training texts; "
            "detected = of those, found by Presidio.") if table else ""
    return _section("Real PII in the generated training data", _p(note, "note"), table, scrubs)


def _scrub_sentence(condition: str, scrub: dict[str, Any]) -> str:
    replaced = ", ".join(f"{t} {n}" for t, n in scrub.get("replaced", {}).items()) or "nothing"
    distinct = ", ".join(f"{t} {n}" for t, n in scrub.get("distinct_values", {}).items())
    return (f"Scrubbing before generation ({condition}): {scrub['texts_changed']} of {scrub['texts']} "
            f"prompts changed; spans replaced: {replaced} (distinct values: {distinct}).")


# ---- scenario B ----

def membership_body(report: dict[str, Any], figures: dict[str, bytes]) -> str:
    """Scenario B's sections; `figures` may hold the ROC figure as "roc.png"."""
    intro = (f"Scenario B: membership inference on the target's pretraining members after fine-tuning "
             f"({report['n_members']} members vs {report['n_nonmembers']} non-members). ROC-AUC 0.5 = no leakage; "
             f"higher = more membership leakage. Conditions at their last attacked epoch.")
    memo = report.get("lab_memorization")
    parts = [_p(intro), _p(f"Lab, before any fine-tuning: {memo}." if memo else "", "note"),
             *(_p(line, "note") for line in generation_sentences(report.get("generation") or {})),
             _sanity(report)]
    plots = _section("Membership plots",
                     _figure(figures.get("roc.png"), "ROC curves",
                             "ROC curves (log-log), one panel per attack, each condition's last checkpoint."),
                     _figure(_plot(report_plots.membership_epoch_lines, report), "ROC-AUC and perplexity per epoch",
                             "ROC-AUC and held-out perplexity per checkpoint; dashed: base."))
    return ("".join(parts) + plots + _section("ROC-AUC [95% bootstrap CI]", _auc_table(report))
            + "".join(_tpr_section(report, fpr) for fpr in report["fprs"])
            + _section("Every checkpoint: perplexity (utility) and ROC-AUC", _checkpoint_table(report))
            + _from_markdown(membership_control_lines(report)) + _from_markdown(training_data_lines(report)))


def _sanity(report: dict[str, Any]) -> str:
    lines = [line for line in sanity_lines(report) if line]
    if not lines:
        return ""
    return _p(lines[0].replace("**", ""), "pass" if report["positive_control"]["passed"] else "fail")


def _from_markdown(lines: list[str]) -> str:
    """The shared control sections (controls.py writes markdown): headings, paragraphs, pipe tables."""
    sections, title, parts, table = [], None, [], []

    def flush_table() -> None:
        if table:
            cells = [[c.strip().strip("`") for c in row.strip().strip("|").split("|")] for row in table]
            parts.append(_table(cells[0], [r for r in cells[1:] if not set("".join(r)) <= set("-")]))
            table.clear()

    for line in [*lines, "## "]:
        if line.startswith("## "):
            flush_table()
            if title is not None:
                sections.append(_section(title, *parts))
            title, parts = line[3:], []
        elif line.startswith("|"):
            table.append(line)
        else:
            flush_table()
            parts.append(_p(line.replace("`", ""), "note"))
    return "".join(sections)


def _condition_label(report: dict[str, Any], condition: str) -> str:
    names = report["attack_names"]
    if condition == "base" or not names:
        return condition
    return f"{condition} (ep {report['table'][names[0]][condition]['epoch']})"


def _auc_table(report: dict[str, Any]) -> str:
    conditions = report["conditions"]
    tuned = [c for c in conditions if c != "base"] if "base" in conditions else []
    header = ["attack", *(_condition_label(report, c) for c in conditions), *(f"{c} vs base" for c in tuned)]
    rows = []
    for name in report["attack_names"]:
        row = report["table"][name]
        cells = [f"{row[c]['auc']:.3f} [{row[c]['auc_ci'][0]:.3f}, {row[c]['auc_ci'][1]:.3f}]" for c in conditions]
        rel = report["relative_auc_change_vs_base"].get(name, {})
        rows.append([name, *cells, *(_percent(rel.get(c)) for c in tuned)])
    return _table(header, rows)


def _tpr_section(report: dict[str, Any], fpr: str) -> str:
    n = report["n_nonmembers"]
    note = ""
    if n and float(fpr) < 1 / n:
        note = (f"With {n} non-members the FPR resolution is {1 / n:.2%}: these are TPRs at zero false positives.")
    rows = [[name, *(f"{report['table'][name][c]['tpr_at_fpr'][fpr]:.3f}" for c in report["conditions"])]
            for name in report["attack_names"]]
    return _section(tpr_heading(fpr), _p(TPR_RULE, "note"), _p(note, "note"),
                    _table(["attack", *report["conditions"]], rows))


def _checkpoint_table(report: dict[str, Any]) -> str:
    names = report["attack_names"]
    rows = []
    for row in report["checkpoints"]:
        ppl = row["perplexity"].get("heldout", row["perplexity"].get("nonmembers"))
        rows.append([row["condition"], row["epoch"], _ratio(ppl, 2), *(f"{row['auc'][n]:.3f}" for n in names)])
    return _table(["condition", "epoch", "perplexity (held-out)", *names], rows)


# ---- provenance (both scenarios) ----

PROVENANCE_KEYS = (("genleak_version", "genleak version"), ("python", "python"), ("machine", "machine"), ("cpu", "cpu"),
                   ("spec_hash", "spec hash"), ("started_at", "started (UTC)"), ("wall_seconds", "wall seconds"))


def _provenance(report: dict[str, Any]) -> str:
    prov = report.get("provenance") or {}
    rows = [["run", report["run"]], ["scenario", report["scenario"]]]
    rows += [[label, _started(prov[key]) if key == "started_at" else prov[key]]
             for key, label in PROVENANCE_KEYS if key in prov]
    known = {key for key, _ in PROVENANCE_KEYS} | {"input_sha256"}
    rows += [[key, json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value]
             for key, value in sorted(prov.items()) if key not in known]
    stages = sorted((report.get("stage_seconds") or {}).items())
    seeds = _seeds(report.get("spec") or {})
    return _section("Provenance",
                    _table(["field", "value"], rows, text_cols=(1,)),
                    "<h3>Wall time per stage (s)</h3>\n" + _table(["stage", "seconds"],
                                                                   [[k, f"{v:.1f}"] for k, v in stages]),
                    _inputs(report.get("inputs") or {}, prov.get("input_sha256") or {}),
                    _artifacts(report),
                    ("<h3>Seeds</h3>\n" + _table(["spec field", "seed"], seeds, text_cols=(0,))) if seeds else "",
                    "<h3>Spec</h3>\n<pre>" + esc(_spec_yaml(report.get("spec") or {})) + "</pre>\n")


def _started(epoch_seconds: Any) -> str:
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(epoch_seconds)))
    except (TypeError, ValueError, OverflowError):
        return str(epoch_seconds)


def _inputs(inputs: dict[str, str], sha256: dict[str, str]) -> str:
    """Input artifact URIs; with their manifest sha256 where provenance["input_sha256"] has them."""
    if not inputs:
        return ""
    header = ["input", "URI", *(["manifest sha256"] if sha256 else [])]
    rows = [[name, uri, *([sha256.get(name, "-")] if sha256 else [])] for name, uri in sorted(inputs.items())]
    return "<h3>Input artifacts</h3>\n" + _table(header, rows, text_cols=(1, 2))


def _artifacts(report: dict[str, Any]) -> str:
    """The checkpoints attacked and what each attack wrote (artifact URIs), as the scenario lists them (with
    the generator first for a `generators:` report, the shared conditions once)."""
    listed = report_for(report["scenario"]).attacked_checkpoints
    if "generators" in report:
        header, rows = ["generator"], []
        for index, section in enumerate(report["generators"]):
            own_header, own_rows = listed(section["report"])
            header = ["generator", *own_header]
            rows += [[section["name"] if generated else "-", *row] for row in own_rows
                     if (generated := str(row[0]).split(" [")[0] in GENERATED_CONDITIONS) or index == 0]
        text_cols = (3, 4, 5)
    else:
        header, rows = listed(report)
        text_cols = (2, 3, 4)
    if not rows:
        return ""
    return "<h3>Attacked checkpoints</h3>\n" + _table(header, rows, text_cols=text_cols)


def extraction_checkpoints(report: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Scenario A: each attack's model, its outputs artifact and attack config hash."""
    rows = [[a["condition"], a["epoch"], a.get("model", ""), a.get("outputs_uri", ""), a.get("config_hash", "")]
            for a in report.get("attacks") or []]
    return ["condition", "epoch", "model", "outputs", "attack config hash"], rows


def membership_checkpoints(report: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Scenario B: each attacked checkpoint's model, ROC and scores artifacts."""
    rows = [[r["condition"], r["epoch"], r.get("model", ""), r.get("roc_uri", ""), r.get("scores_uri", "")]
            for r in report.get("checkpoints") or []]
    return ["condition", "epoch", "model", "roc", "scores"], rows


def _seeds(spec: dict[str, Any], prefix: str = "") -> list[list[Any]]:
    """Every integer seed in the spec, by dotted path (seed, icl_seed, ...)."""
    out: list[list[Any]] = []
    for key, value in spec.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out += _seeds(value, path + ".")
        elif "seed" in str(key) and isinstance(value, int) and not isinstance(value, bool):
            out.append([path, value])
    return out


def _spec_yaml(spec: dict[str, Any]) -> str:
    return yaml.safe_dump(spec, sort_keys=False, default_flow_style=False, allow_unicode=True)
