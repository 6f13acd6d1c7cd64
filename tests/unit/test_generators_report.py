"""Several generators in one spec (`generators:`), without services: the runner generates, tunes and attacks
each generator's conditions once per generator and base/original once; the report builds a section per
generator from the scenario's own builder, and compares them (scenario A and B), in report.md and
report.html; the controller's summary keys are kept by generator."""

from __future__ import annotations

import re

import pytest

from genleak.controller import stages
from genleak.controller.clients import ServiceClients
from genleak.controller.runner import ExperimentRunner
from genleak.controller.scenarios import get_scenario
from genleak.controller.spec import load_spec_text
from genleak.core.progress import NULL_REPORTER
from genleak.report.build import build_report
from genleak.report.files import render_report_files
from genleak.report.generators import generator_outcome
from genleak.v1 import common_pb2
from report_fakes import MIA_SPEC, mia_result, scan_result
from test_report_html import _assert_md_tables_in_html, _assert_self_contained

NO_SERVICES = ServiceClients(generator="the generator", finetuner="the finetuner", attacker="the attacker",
                             channels=())
SPEC = """
name: two
lab: null
target: /models/target
data: {prompts: "file:///prompts", pii_targets: "file:///targets", few_shot: "file:///few", people: null}
attack: {templates: [A], temperatures: [0.2, 1.0], perplexity_dataset: null}
finetune: {epochs: 2}
leakage: null
conditions: [base, original, generated]
generators:
  - {name: cool, model: /models/g, sampling: {temperature: 0.5}}
  - {name: hot, model: /models/g, sampling: {temperature: 1.5}}
"""
# What each model "extracts": the fake attack reads the temperature of the data it was tuned on off the URI.
HITS = {"/models/target": 2, "ckpt/original": 3, "ckpt/gen-0.5": 4, "ckpt/gen-1.5": 8}


@pytest.fixture
def fake_services(monkeypatch):
    calls: dict[str, list] = {"generate": [], "finetune": []}

    def generate_dataset(stub, spec, model_uri, source, on_update, scrub=False):
        temperature = spec.sampling.temperature
        calls["generate"].append((model_uri, temperature, scrub))
        return common_pb2.ArtifactRef(uri=f"file:///gen-{temperature}"), {"n_out": 10, "n_in": 10}

    def finetune(stub, spec, setting, model_uri, dataset, data_format, on_update, on_compute=None):
        calls["finetune"].append((dataset.uri, data_format))
        tag = "original" if dataset.uri == "file:///prompts" else dataset.uri.split("/")[-1]
        return {e: common_pb2.ArtifactRef(uri=f"file:///ckpt/{tag}/{e}") for e in range(1, spec.epochs + 1)}

    def extract(stub, spec, model_uri, targets, few_shot, on_update, perplexity_texts=None):
        hits = next(v for k, v in HITS.items() if k in model_uri) + int(model_uri.endswith("/2"))
        people = list(range(hits))  # who was hit, by position
        return {"n_targets": 10, "outputs_uri": f"{model_uri}/outputs", "config_hash": "c0ffee",
                "counts": {"A": {"0.2": {"fuzzy": hits, "exact": hits // 2}, "1.0": {"fuzzy": hits - 1, "exact": 0}}},
                "hits": {"A": {"0.2": {"fuzzy": people, "exact": people}, "1.0": {"fuzzy": people, "exact": people}}}}

    monkeypatch.setattr(stages, "generate_dataset", generate_dataset)
    monkeypatch.setattr(stages, "finetune", finetune)
    monkeypatch.setattr(stages, "extract", extract)
    return calls


@pytest.fixture
def outcome(fake_services):
    spec = load_spec_text(SPEC)
    return spec, ExperimentRunner(clients=NO_SERVICES, lab_provider=None, store=None).run(spec, NULL_REPORTER)


def test_the_runner_runs_generated_conditions_once_per_generator(fake_services, outcome):
    spec, out = outcome
    assert sorted(fake_services["generate"]) == [("/models/g", 0.5, False), ("/models/g", 1.5, False)]
    assert sorted(fake_services["finetune"]) == [("file:///gen-0.5", "text"), ("file:///gen-1.5", "text"),
                                                 ("file:///prompts", "prompt_continuation")]
    tagged = sorted((a["condition"], a.get("generator", ""), a["epoch"]) for a in out["attacks"])
    assert tagged == [("base", "", 0), ("generated", "cool", 1), ("generated", "cool", 2), ("generated", "hot", 1),
                      ("generated", "hot", 2), ("original", "", 1), ("original", "", 2)]
    assert set(out["generation"]) == {"generated:cool", "generated:hot"}
    assert out["training_data"]["generated:hot"]["generator"] == "hot"
    assert out["inputs"]["generator:cool"] == "/models/g" and "generator" not in out["inputs"]
    assert {"generate[generated:cool]", "finetune[generated:hot]", "attack[generated:hot@epoch2]",
            "attack[original@epoch1]"} <= set(out["stage_seconds"])
    assert [g["name"] for g in out["generators"]] == ["cool", "hot"]
    assert out["generators"][1]["stages"] == ["generate[generated:hot]", "finetune[generated:hot]",
                                              "attack[generated:hot@epoch1]", "attack[generated:hot@epoch2]"]


def test_one_generator_s_outcome_reads_as_a_one_generator_run(outcome):
    spec, out = outcome
    owned = {s for g in out["generators"] for s in g["stages"]}
    own = generator_outcome(out, out["generators"][1], owned)
    assert all("generator" not in a for a in own["attacks"])
    assert sorted({a["model"] for a in own["attacks"]}) == [
        "/models/target", "file:///ckpt/gen-1.5/1", "file:///ckpt/gen-1.5/2", "file:///ckpt/original/1",
        "file:///ckpt/original/2"]
    assert set(own["generation"]) == {"generated"} and own["generation"]["generated"]["dataset"] == "file:///gen-1.5"
    assert own["inputs"]["generator"] == "/models/g" and not any(k.startswith("generator:") for k in own["inputs"])
    assert "finetune[generated:cool]" not in own["stage_seconds"] and "finetune[original]" in own["stage_seconds"]
    assert own["training_data"]["generated"]["dataset"] == "file:///gen-1.5"


def test_extraction_report_has_a_section_per_generator_and_a_comparison(outcome):
    spec, out = outcome
    report = get_scenario("extraction").report.build(spec, "two", out, {"spec_hash": spec.spec_hash()})
    assert [s["name"] for s in report["generators"]] == ["cool", "hot"]
    cool, hot = (s["report"] for s in report["generators"])
    assert cool["conditions"] == hot["conditions"] == ["base", "original", "generated"]
    assert cool["best"]["fuzzy"]["A"]["generated"]["count"] == 5 and hot["best"]["fuzzy"]["A"]["generated"]["count"] == 9
    assert cool["best"]["fuzzy"]["A"]["original"] == hot["best"]["fuzzy"]["A"]["original"]  # shared, once
    # the controller's job result keeps the summary keys: by generator here
    assert set(report["best"]) == set(report["relative_change_vs_base"]) == {"cool", "hot"}
    assert report["relative_change_vs_base"]["hot"]["fuzzy"]["A"]["generated"] == pytest.approx(3.5)

    files = render_report_files(report, {})
    md = files["report.md"].decode()
    assert md.startswith("# genleak report: two (2 generators)")
    assert "## Generator 1: cool (/models/g)" in md and "## Generator 2: hot (/models/g)" in md
    assert "| cool | /models/g | continuation | hf | temperature=0.5 |" in md
    assert "| - | base | 2 |" in md and "| - | original | 4 (+100.0%) |" in md
    assert "| cool | generated | 5 (+150.0%) |" in md and "| hot | generated | 9 (+350.0%) |" in md
    assert md.index("Fuzzy successes per generator") < md.index("## Generator 1")
    assert "### Fuzzy successes: maximum over temperature x epoch" in md  # the sections' headings, one level down
    page = files["report.html"].decode()
    assert page.count('<section class="generator">') == 2 and "Generators compared" in page
    assert _assert_md_tables_in_html(md, page) > 30  # every report.md table row is an HTML row, sections too
    _assert_self_contained(page, n_images=4)  # each section's two extraction plots
    assert "<td>hot</td><td>generated</td><td>9 (+350.0%)</td>" in page
    assert re.search(r"<td>hot</td><td>generated</td><td>2</td><td class=\"text\">file:///ckpt/gen-1.5/2</td>", page)


def test_leaked_values_are_shown_in_their_generator_s_section(outcome):
    """The controller reads the leaked values of every scan into the combined report (keys like
    `generated:hot`); each section shows its own under its own condition names."""
    spec, out = outcome
    spec = spec.model_copy(update={"leakage": load_spec_text("name: x").leakage})
    out = {**out, "leakage": [scan_result("base", 3, 3), scan_result("generated", 5, 2, generator="cool"),
                              scan_result("generated", 7, 6, generator="hot"), scan_result("original", 1, 0)]}
    report = build_report(spec, "two", out, {})
    assert [(s["condition"], s.get("generator")) for s in report["leakage"]] == [
        ("base", None), ("original", None), ("generated", "cool"), ("generated", "hot")]
    value = {"type": "EMAIL_ADDRESS", "shown": "h***@e***.com", "value_id": "v1", "count": 2, "in_finetune": False,
             "revealed": False}
    report["leaked_values"] = {"generated:hot": [value], "base": []}
    md = render_report_files(report, {})["report.md"].decode()
    hot = md[md.index("## Generator 2: hot"):]
    assert "| generated | EMAIL_ADDRESS | `h***@e***.com` | v1 | 2 | no |" in hot
    assert "h***@e***.com" not in md[:md.index("## Generator 2: hot")]
    assert "## Untargeted PII leakage per generator" in md and "| hot | generated | 7 (7) | 7 (7) | 6 (6) | 6 (6) |" in md


def test_membership_report_compares_each_generator_s_auc():
    spec = load_spec_text(MIA_SPEC + "conditions: [base, original, generated]\ngenerators: [{name: smol, model: "
                                     "zoo:smollm2-135m-instruct}, {name: lab, model: lab:generator}]\n")
    attacks = [mia_result("base", 0, 0.60), mia_result("original", 2, 0.62),
               {**mia_result("generated", 2, 0.70), "generator": "smol"},
               {**mia_result("generated", 2, 0.55), "generator": "lab"}]
    generators = [{"name": g.name, "model": g.model, "task": g.task, "engine": "hf", "sampling": {}, "config": {},
                   "stages": [f"finetune[generated:{g.name}]"]} for g in spec.generators]
    out = {"attacks": attacks, "stage_seconds": {"finetune[generated:smol]": 1.0, "finetune[generated:lab]": 2.0},
           "inputs": {"target": "t", "generator:smol": "zoo:smollm2-135m-instruct", "generator:lab": "l"},
           "generators": generators}
    report = get_scenario("membership").report.build(spec, "b", out, {})
    assert set(report["table"]) == {"smol", "lab"} and report["table"]["lab"]["loss"]["generated"]["auc"] == 0.55
    assert report["generators"][0]["report"]["stage_seconds"] == {"finetune[generated:smol]": 1.0}
    md = render_report_files(report, {"roc.png": b"\x89PNG\r\n\x1a\n"})["report.md"].decode()
    assert "| - | base | 0.600 [0.550, 0.650] | 0.600 [0.550, 0.650] |" in md
    assert "| smol | generated | 0.700 [0.650, 0.750] (+16.7%) |" in md
    assert "| lab | generated | 0.550 [0.500, 0.600] (-8.3%) |" in md
    assert md.count("![ROC curves") == 1 and "## Generator 2: lab (lab:generator)" in md


def test_targets_and_generators_nest_a_section_per_generator_in_each_target(outcome):
    from genleak.report.build import combine_target_reports

    spec, out = outcome
    one = get_scenario("extraction").report.build(spec, "two", out, {})
    combined = combine_target_reports("two", "extraction", [one, one], {})
    assert [entry["target"] for entry in combined["targets"]] == ["/models/target", "/models/target"]
    files = render_report_files(combined, {})
    md = files["report.md"].decode()
    assert md.count("## Target ") == 2 and md.count("### Generator 2: hot (/models/g)") == 2
    assert md.count("#### Fuzzy successes: maximum over temperature x epoch") == 4  # two levels down
    page = files["report.html"].decode()
    assert page.count("<h1>Target ") == 2 and page.count('<section class="generator">') == 4
