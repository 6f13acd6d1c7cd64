"""Positive and clean controls (controller.positive_control, report.extraction_control) and their report sections."""

from __future__ import annotations

import numpy as np
import pytest

from genleak.controller import positive_control as control
from genleak.controller.spec import load_spec_text
from genleak.core.errors import InvalidSpec
from genleak.report.controls import extraction_control_lines, membership_control_lines, sanity_lines, training_data_lines
from genleak.report.extraction_control import extraction_control

TARGETS = [{"name": f"Person {i}", "email": f"p{i}@corp.example"} for i in range(20)]
# Enron-format files repeat people: rows 20 and 21 are persons 3 and 7 again.
TARGETS_WITH_REPEATS = TARGETS + [dict(TARGETS[3]), dict(TARGETS[7])]


def test_planted_people_are_a_seeded_share_of_distinct_emails_with_every_row_of_each():
    positions = control.pick_planted_people(TARGETS_WITH_REPEATS, 0.25, seed=1)
    emails = {TARGETS_WITH_REPEATS[i]["email"] for i in positions}
    assert len(emails) == 5  # a quarter of the 20 distinct e-mails
    # every row of a planted e-mail is planted, so a repeated person never sits in both subsets
    assert all((i in positions) == (t["email"] in emails) for i, t in enumerate(TARGETS_WITH_REPEATS))
    assert control.pick_planted_people(TARGETS_WITH_REPEATS, 0.25, seed=1) == positions
    assert control.pick_planted_people(TARGETS_WITH_REPEATS, 0.25, seed=2) != positions


def test_planted_documents_state_exactly_the_planted_people_in_every_form():
    positions = control.pick_planted_people(TARGETS, 0.2, seed=0)
    records = control.planted_pii_records(TARGETS, positions, copies=4, seed=0)
    assert len(records) == 4 * len(positions)
    texts = [r["prompt"] + r["continuation"] for r in records]
    planted = {TARGETS[i]["email"] for i in positions}
    for person in TARGETS:
        n = sum(person["email"] in t for t in texts)
        assert n == (4 if person["email"] in planted else 0)
    # the four forms carry the contexts the four extraction templates query
    for stem in ("the email address of", "name: ", "[mailto: ", "\u2014\u2013Original Message\u2014\u2013\n From: "):
        assert any(stem in t for t in texts), stem


def test_members_the_control_was_tuned_on_are_not_scored():
    members = [{"text": f"mail {i}\nbody {i}\n"} for i in range(10)]
    prompts = [{"prompt": "mail 3\n", "continuation": "body 3\n"}, {"prompt": "mail 5\n", "continuation": "body  5\n"}]
    kept = control.untouched(members, control.tuned_texts(prompts), "text")
    assert [m["text"] for m in kept] == [m["text"] for i, m in enumerate(members) if i not in (3, 5)]


def test_planted_text_records_train_on_the_whole_text():
    records = control.planted_text_records(["Subject: a\nbody\n", "one line"])
    assert [r["prompt"] + r["continuation"] for r in records] == ["Subject: a\nbody\n", "one line"]


def _attack(condition, epoch, fuzzy, n=20):
    return {"condition": condition, "epoch": epoch, "n_targets": n,
            "hits": {"A": {"0.2": {"fuzzy": fuzzy, "exact": []}}}}


def test_extraction_control_passes_when_the_planted_people_rise_significantly():
    positions = list(range(10))
    attacks = [_attack("base", 0, [0, 15]), _attack("planted", 1, [0]), _attack("planted", 2, list(range(10)) + [15])]
    result = extraction_control(attacks, positions, ["A"], 0.2, "fuzzy")
    row = result["rows"][0]
    assert (row["planted"]["base"], row["planted"]["tuned"], row["planted"]["n"]) == (1, 10, 10)
    assert (row["rest"]["base"], row["rest"]["tuned"], row["rest"]["n"]) == (1, 1, 10)
    assert row["epoch"] == 2 and result["passed"]
    failed = extraction_control([attacks[0], _attack("planted", 2, [0, 1])], positions, ["A"], 0.2, "fuzzy")
    assert not failed["passed"]
    report = {"scenario": "extraction", "positive_control": {**failed, "copies": 4}}
    assert sanity_lines(report)[0].startswith("**Positive control: FAILED.**")
    assert "| A | 1 | 2 |" in "\n".join(extraction_control_lines(report))


def test_membership_control_compares_planted_with_other_nonmembers():
    rng = np.random.default_rng(0)
    planted = list(range(0, 40, 4))

    def rows(shift):
        return [{"side": "nonmember", "row": r, "loss": float(rng.normal() + (shift if r in planted else 0))}
                for r in range(40)] + [{"side": "member", "row": 0, "loss": 9.0}]

    result = control.membership_control({"base": rows(0.0), "planted": rows(3.0)}, planted, ["loss"])
    cells = result["attacks"]["loss"]
    assert cells["planted"]["auc"] > 0.95 and cells["planted"]["auc_ci"][0] > 0.5
    assert result["n_planted"] == 10 and result["n_other"] == 30 and result["passed"]
    report = {"scenario": "membership", "positive_control": result}
    assert "**Positive control: PASS.**" in sanity_lines(report)[0]
    assert "| loss | " in "\n".join(membership_control_lines(report))
    same = control.membership_control({"base": rows(0.0), "planted": rows(0.0)}, planted, ["loss"])
    assert not same["passed"]


def test_training_data_section_names_every_condition_and_the_excluded_members():
    report = {"scenario": "membership", "conditions": ["base", "original"], "all_conditions": ["base", "original"],
              "training_data": {"original": {"dataset": "s3://b/prompts", "records": 40, "what": "data.prompts"},
                                "scored_members": {"dataset": "s3://b/m", "records": 160, "excluded_tuned_on": 40}}}
    text = "\n".join(training_data_lines(report))
    assert "| base | not fine-tuned | 0 |" in text and "| original | data.prompts (`s3://b/prompts`) | 40 |" in text
    assert "40 of the 160 member texts" in text


def test_planted_condition_needs_base():
    with pytest.raises(InvalidSpec, match="base"):
        load_spec_text("conditions: [original, planted]\n")
    spec = load_spec_text("conditions: [base, planted]\ncontrol: {fraction: 0.5, copies: 2}\n")
    assert spec.control.copies == 2 and "lab:prompts" in spec.references()


def test_reports_show_the_control_apart_and_the_sanity_line_first():
    """report.md and report.html: planted is not a column of the main tables, its section and the
    training-data table are there (every md row in the page), and the sanity line comes first."""
    from genleak.report.build import build_report
    from genleak.report.html import render_html
    from genleak.report.markdown import render_markdown
    from genleak.controller.spec import ExperimentSpec

    spec = ExperimentSpec(attack={"templates": ["A"], "temperatures": [0.2]}, finetune={"epochs": 1},
                          conditions=["base", "original", "planted"], leakage=None)

    def attack(condition, fuzzy):
        return {"condition": condition, "epoch": 0 if condition == "base" else 1, "n_targets": 20, "model": "m",
                "counts": {"A": {"0.2": {"fuzzy": len(fuzzy), "exact": 0}}},
                "hits": {"A": {"0.2": {"fuzzy": fuzzy, "exact": []}}}}

    outcome = {"attacks": [attack("base", [15]), attack("original", [15, 16]), attack("planted", list(range(9)))],
               "stage_seconds": {}, "inputs": {},
               "positive_control": {"kind": "pii", "positions": list(range(10)), "n_people": 10, "copies": 4},
               "training_data": {"original": {"dataset": "file:///p", "records": 300, "what": "data.prompts"},
                                 "planted": {"dataset": "file:///q", "records": 340, "what": "data.prompts plus 40"}}}
    report = build_report(spec, "r", outcome, {})
    assert report["conditions"] == ["base", "original"] and report["positive_control"]["passed"]
    md = render_markdown(report)
    assert md.index("**Positive control: PASS.**") < md.index("## Fuzzy successes at T=0.2")
    assert "| A | 0 | 9 |" in md and "| planted | data.prompts plus 40 (`file:///q`) | 340 |" in md
    page = render_html(report)
    assert 'class="pass"' in page and "What each condition was tuned on" in page
    flat = page.replace(' class="text"', "").replace("<th>", "<td>").replace("</th>", "</td>")
    for line in md.splitlines():
        if line.startswith("| ") and ("planted" in line or line.startswith("| A | 0 | 9")):
            cells = [c.strip().strip("`") for c in line[2:-2].split(" | ")]
            assert "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>" in flat.replace("&#x27;", "'"), line


def test_attack_knobs_may_name_lab_models():
    spec = load_spec_text("scenario: membership\nmia: {attacks: {loss: {}, ne: {mask_model: 'lab:mask_model'}}}\n")
    assert "lab:mask_model" in spec.references() and spec.uses_lab()
    with pytest.raises(InvalidSpec, match="lab section"):
        load_spec_text("scenario: membership\nlab: null\ntarget: /m\n"
                       "mia: {members: /a, nonmembers: /b, attacks: {ne: {mask_model: 'lab:mask_model'}}}\n"
                       "conditions: [base]\n")
