"""Scenario B report: the tables, relative change vs base, the FPR-resolution note, the ROC figure."""

from __future__ import annotations

import pytest

from genleak.report.build import build_report
from genleak.report.markdown import render_markdown
from genleak.report.membership import plot_condition_rocs
from genleak.controller.spec import load_spec_text
from report_fakes import MIA_SPEC, mia_result

def test_membership_report_compares_last_epochs_with_base():
    spec = load_spec_text(MIA_SPEC)
    assert spec.generator.task == "self_instruct"  # scenario B defaults to self-instruct data
    outcome = {"attacks": [mia_result("base", 0, 0.6), mia_result("generated", 1, 0.7),
                           mia_result("generated", 2, 0.9)],
               "stage_seconds": {"lab": 1.0}, "inputs": {}, "generation": {"generated": {
                   "task": "self_instruct", "stats": {"n_accepted": 12}}}}
    report = build_report(spec, "b", outcome, {})
    assert report["table"]["loss"]["generated"]["epoch"] == 2
    assert report["relative_auc_change_vs_base"]["loss"]["generated"] == pytest.approx(0.5)
    md = render_markdown(report, "roc.png")
    assert "| loss | 0.600 [0.550, 0.650] | 0.900 [0.850, 0.950] | +50.0% |" in md
    assert "generated (ep 2)" in md and "n_accepted=12" in md and "![ROC curves](roc.png)" in md
    assert "FPR resolution is 0.50%" in md  # 200 non-members cannot resolve 0.1% FPR
    assert "| generated | 1 | 41.00 |" in md and "| generated | 2 | 42.00 |" in md  # every checkpoint


def test_condition_roc_figure(tmp_path):
    curve = {"fpr": [0.0, 0.1, 1.0], "tpr": [0.0, 0.5, 1.0], "auc": 0.7}
    path = plot_condition_rocs({"base": {"loss": curve}, "generated": {"loss": curve, "zlib": curve}},
                               tmp_path / "roc.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_membership_sweep_gets_a_column_per_setting():
    spec = load_spec_text(MIA_SPEC.replace("finetune: {epochs: 2}", "finetune: {epochs: 1, seed: [1, 2]}"))
    swept = []
    for seed, auc in ((2, 0.8), (1, 0.7)):
        result = mia_result("generated", 1, auc)
        swept.append({**result, "setting": {"method": "lora", "learning_rate": 2e-6, "seed": seed},
                      "setting_label": f"seed={seed}", "setting_group": "lora lr=2e-06", "roc_uri": f"roc-{seed}"})
    outcome = {"attacks": [mia_result("base", 0, 0.6), *swept], "stage_seconds": {}, "inputs": {}, "generation": {}}
    report = build_report(spec, "b", outcome, {})
    assert report["conditions"] == ["base", "generated [seed=1]", "generated [seed=2]"]  # ordered by setting
    assert report["table"]["loss"]["generated [seed=2]"]["auc"] == 0.8
    assert report["relative_auc_change_vs_base"]["loss"]["generated [seed=1]"] == pytest.approx(1 / 6)
    assert "| generated [seed=1] | 1 | 41.00 |" in render_markdown(report)
