import pytest

from genleak.controller.report import build_report, render_markdown
from genleak.controller.spec import ExperimentSpec, load_spec_text
from genleak.core.errors import InvalidSpec


def test_defaults_follow_the_paper():
    spec = load_spec_text("name: x\n")
    assert spec.generator.sampling.temperature == 0.75 and spec.generator.sampling.top_k == 100
    assert spec.attack.max_new_tokens == 15 and spec.attack.threshold == 80
    assert spec.attack.temperatures == [0.01, 0.1, 0.2, 0.5, 0.75, 1.0, 1.25, 1.5]
    assert spec.finetune.epochs == 4 and spec.conditions == ["base", "original", "generated"]


@pytest.mark.parametrize("text, field", [
    ("attack: {temperatures: [0.2, -1]}", "attack.temperatures"),
    ("generator: {sampling: {temperature: -0.5}}", "generator.sampling.temperature"),
    ("finetune: {learning_rate: 0}", "finetune.learning_rate"),
    ("conditions: [base, bogus]", "conditions.1"),
    ("attack: {tempratures: [1]}", "attack.tempratures"),
])
def test_bad_spec_names_the_field(text, field):
    with pytest.raises(InvalidSpec) as err:
        load_spec_text(text)
    assert err.value.field == field and field in str(err.value)


def test_not_yaml_and_not_mapping():
    with pytest.raises(InvalidSpec, match="not valid YAML"):
        load_spec_text("a: [1,")
    with pytest.raises(InvalidSpec, match="mapping"):
        load_spec_text("- 1\n- 2")


def test_lab_refs_need_a_lab():
    with pytest.raises(InvalidSpec, match="lab"):
        load_spec_text("lab: null\n")


def test_spec_hash_is_stable_and_sensitive():
    a, b = load_spec_text("name: x"), load_spec_text("name: x\nattack: {top_k: 50}")
    assert a.spec_hash() == load_spec_text("name: x").spec_hash() != b.spec_hash()


def _attack(condition, epoch, counts):
    return {"condition": condition, "epoch": epoch, "n_targets": 10,
            "counts": {"A": {"0.2": {"fuzzy": counts[0], "exact": counts[1]}, "1.0": {"fuzzy": counts[2], "exact": 0}}}}


def test_report_takes_best_over_epoch_and_temperature_and_relative_change():
    spec = ExperimentSpec(attack={"templates": ["A"], "temperatures": [0.2, 1.0]}, finetune={"epochs": 2})
    outcome = {"attacks": [_attack("base", 0, (4, 2, 1)), _attack("generated", 1, (3, 1, 6)), _attack("generated", 2, (5, 3, 2))],
               "stage_seconds": {"lab": 1.0}, "inputs": {}}
    report = build_report(spec, "r", outcome, {})
    assert report["best"]["fuzzy"]["A"]["generated"] == {"count": 6, "temperature": 1.0, "epoch": 1}
    assert report["relative_change_vs_base"]["fuzzy"]["A"]["generated"] == pytest.approx(0.5)
    assert report["best"]["exact"]["A"]["generated"]["count"] == 3
    md = render_markdown(report)
    assert "| A | 4 (T=0.2) | 6 (T=1, ep 1) | +50.0% |" in md
