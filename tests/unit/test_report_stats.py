"""Condition vs base without selection: paired counts, bootstrap interval, exact McNemar, in the reports."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from genleak.report.build import build_report
from genleak.report.html import render_html
from genleak.report.markdown import render_markdown
from genleak.report.stats import comparison_temperature, compare_to_base, paired_comparison
from genleak.controller.spec import load_spec_text


def vector(n: int, hit: range | list[int]) -> np.ndarray:
    v = np.zeros(n, dtype=bool)
    v[list(hit)] = True
    return v


def test_paired_comparison_counts_discordant_people_and_tests_them_exactly():
    base, tuned = vector(100, range(0, 10)), vector(100, range(5, 20))
    row = paired_comparison(base, tuned)
    assert (row["base"], row["tuned"], row["difference"], row["only_base"], row["only_tuned"]) == (10, 15, 5, 5, 10)
    assert row["p_value"] == pytest.approx(binomtest(10, 15, 0.5).pvalue) and not row["significant"]
    assert row["ci"][0] < 5 < row["ci"][1] and row["ci"][0] < 0  # +5 of 100 people is inside the noise
    strong = paired_comparison(vector(100, []), vector(100, range(20)))
    assert strong["significant"] and strong["p_value"] == pytest.approx(2 * 0.5 ** 20) and strong["ci"][0] > 0
    same = paired_comparison(base, base.copy())
    assert same["p_value"] == 1.0 and same["ci"] == [0.0, 0.0]
    assert paired_comparison(base, tuned, seed=3)["ci"] == paired_comparison(base, tuned, seed=3)["ci"]


def test_comparison_temperature_is_the_papers_when_swept():
    assert comparison_temperature([0.01, 0.2, 1.0]) == 0.2
    assert comparison_temperature([1.0, 0.5]) == 0.5


def _attack(condition: str, epoch: int, fuzzy: list[int], exact: list[int]) -> dict:
    return {"condition": condition, "epoch": epoch, "n_targets": 40,
            "counts": {"A": {"0.2": {"fuzzy": len(fuzzy), "exact": len(exact)}, "1.0": {"fuzzy": 0, "exact": 0}}},
            "hits": {"A": {"0.2": {"fuzzy": fuzzy, "exact": exact}, "1.0": {"fuzzy": [], "exact": []}}}}


def test_reports_put_the_selection_free_comparison_before_the_maximum():
    spec = load_spec_text("name: r\nlab: {preset: tiny}\nattack: {templates: [A], temperatures: [0.2, 1.0]}\n"
                          "conditions: [base, original, generated]\n")
    attacks = [_attack("base", 0, [1, 2, 3], [1]),
               _attack("original", 1, [1, 2, 3, 4], [1]), _attack("original", 2, list(range(20)), [1, 2]),
               _attack("generated", 2, [1], [])]
    outcome = {"attacks": attacks, "stage_seconds": {}, "inputs": {}}
    report = build_report(spec, "r", outcome, {})
    fuzzy = {r["condition"]: r for r in report["comparison"]["fuzzy"]}
    assert fuzzy["original"]["epoch"] == 2 and (fuzzy["original"]["base"], fuzzy["original"]["tuned"]) == (3, 20)
    assert fuzzy["original"]["significant"] and not fuzzy["generated"]["significant"]
    assert compare_to_base(attacks, ["A"], "exact", 0.2)[0]["difference"] == 1
    md = render_markdown(report)
    first = md.index("## Fuzzy successes at T=0.2, last epoch (no selection): vs base over the same 40 people")
    assert first < md.index("## Exact extractions at T=0.2") < md.index("## Fuzzy successes: maximum over temperature")
    assert "| A | original | 2 | 3 | 20 | +17 [" in md and "] * |" in md
    html = render_html(report)
    assert "last epoch (no selection)" in html and "McNemar" in html and "the paper&#x27;s aggregation" in html
    no_hits = build_report(spec, "r", {**outcome, "attacks": [{k: v for k, v in a.items() if k != "hits"}
                                                              for a in attacks]}, {})
    assert no_hits["comparison"] == {"fuzzy": [], "exact": []} and "no selection" not in render_markdown(no_hits)


def test_readme_tables_come_from_a_report_and_a_rerun_changes_nothing(tmp_path):
    import importlib.util
    import json
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "readme_tables.py"
    module_spec = importlib.util.spec_from_file_location("readme_tables", script)
    readme_tables = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(readme_tables)
    spec = load_spec_text("name: r\nlab: {preset: tiny}\nattack: {templates: [A], temperatures: [0.2, 1.0]}\n"
                          "conditions: [base, original]\n")
    attacks = [_attack("base", 0, [1, 2, 3], [1]), _attack("original", 2, list(range(20)), [1, 2])]
    report = build_report(spec, "demo", {"attacks": attacks, "stage_seconds": {}, "inputs": {}},
                          {"started_at": 1796000000.0, "wall_seconds": 600.0, "genleak_version": "0.1.0"})
    (tmp_path / "report.json").write_text(json.dumps(report))
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\nprose\n<!-- tables:demo -->\nstale numbers\n<!-- /tables:demo -->\nmore prose\n")
    pair = f"demo={tmp_path / 'report.json'}"
    assert readme_tables.main(["--check", "--readme", str(readme), pair]) == 1
    assert readme_tables.main(["--readme", str(readme), pair]) == 0
    text = readme.read_text()
    assert "stale numbers" not in text and text.endswith("<!-- /tables:demo -->\nmore prose\n")
    assert "\n#### Fuzzy successes at T=0.2, last epoch (no selection)" in text  # below the README's sections
    assert text.index("no selection") < text.index("#### Fuzzy successes: maximum")
    assert "| A | original | 2 | 3 | 20 | +17 [" in text and "run on 2026-" in text
    assert readme_tables.main(["--check", "--readme", str(readme), pair]) == 0
    assert readme_tables.main(["--readme", str(readme), pair]) == 0 and readme.read_text() == text
