from pathlib import Path

import pytest

from genleak.report.build import build_report
from genleak.report.markdown import render_markdown
from genleak.controller.spec import ExperimentSpec, load_spec_text
from genleak.core.errors import InvalidSpec
from report_fakes import attack_result, scan_result


def test_defaults_follow_the_paper():
    spec = load_spec_text("name: x\n")
    # Generation samples as the task defines it (continuation: the paper's T=0.75, top-k 100) unless overridden.
    assert spec.generator.sampling.model_dump(exclude_none=True) == {} and spec.generator.config == {}
    assert spec.attack.max_new_tokens == 15 and spec.attack.threshold == 80
    assert list(spec.attack.temperatures) == [0.01, 0.1, 0.2, 0.5, 0.75, 1.0, 1.25, 1.5]
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


def test_report_takes_best_over_epoch_and_temperature_and_relative_change():
    spec = ExperimentSpec(attack={"templates": ["A"], "temperatures": [0.2, 1.0]}, finetune={"epochs": 2})
    outcome = {"attacks": [attack_result("base", 0, (4, 2, 1)), attack_result("generated", 1, (3, 1, 6)), attack_result("generated", 2, (5, 3, 2))],
               "stage_seconds": {"lab": 1.0}, "inputs": {}}
    report = build_report(spec, "r", outcome, {})
    assert report["best"]["fuzzy"]["A"]["generated"] == {"count": 6, "temperature": 1.0, "epoch": 1, "setting": ""}
    assert report["relative_change_vs_base"]["fuzzy"]["A"]["generated"] == pytest.approx(0.5)
    assert report["best"]["exact"]["A"]["generated"]["count"] == 3
    md = render_markdown(report)
    assert "| A | 4 (T=0.2) | 6 (T=1, ep 1) | +50.0% |" in md


def test_scrubbed_condition_and_leakage_are_typed_and_validated():
    spec = load_spec_text("conditions: [base, generated, generated-scrubbed]\n"
                          "generator: {scrub: {entities: [PERSON, EMAIL_ADDRESS, PHONE_NUMBER], seed: 3}}\n")
    assert spec.generated_conditions() == ["generated", "generated-scrubbed"]
    assert spec.generator.scrub.seed == 3 and spec.scans_leakage()
    assert "lab:people" in spec.references()
    with pytest.raises(InvalidSpec) as err:
        load_spec_text("generator: {scrub: {email_domain: drop}}")
    assert err.value.field == "generator.scrub.email_domain"
    with pytest.raises(InvalidSpec, match="twice"):
        load_spec_text("conditions: [base, base]")
    assert not load_spec_text("leakage: null").scans_leakage()
    assert not load_spec_text("scenario: membership").scans_leakage()


def test_report_has_leakage_tables_and_scrub_summary_with_counts_only():
    spec = ExperimentSpec(attack={"templates": ["A"], "temperatures": [0.2, 1.0]}, finetune={"epochs": 2},
                          conditions=["base", "generated", "generated-scrubbed"])
    attacks = [attack_result("base", 0, (4, 2, 1)), attack_result("generated", 2, (3, 1, 6)),
               attack_result("generated-scrubbed", 2, (2, 1, 1))]
    scrub = {"texts": 40, "texts_changed": 39, "replaced": {"EMAIL_ADDRESS": 85, "PERSON": 112},
             "distinct_values": {"EMAIL_ADDRESS": 32, "PERSON": 51}}
    outcome = {"attacks": attacks, "stage_seconds": {}, "inputs": {},
               "leakage": [scan_result("generated-scrubbed", 1, 1, texts=0), scan_result("base", 3, 3), scan_result("generated", 5, 2, 85)],
               "generation": {"generated-scrubbed": {"task": "continuation", "stats": {"scrub": scrub}}}}
    report = build_report(spec, "r", outcome, {})
    assert [s["condition"] for s in report["leakage"]] == ["base", "generated", "generated-scrubbed"]
    assert list(report["leakage"][0]["sources"]["unconditioned"]["entities"]) == ["EMAIL_ADDRESS", "PERSON"]
    md = render_markdown(report)
    assert "| base | EMAIL_ADDRESS | 5 (4) | 3 (3) | - | 0.600 |" in md  # base has no fine-tuning data
    assert "| generated | EMAIL_ADDRESS | 7 (6) | 5 (5) | 2 (2) | 0.714 |" in md
    assert "| generated | EMAIL_ADDRESS | 40 | 85 | 85 |" in md and "| generated-scrubbed | EMAIL_ADDRESS | 40 | 0 | 0 |" in md
    assert "39 of 40 prompts changed; spans replaced: EMAIL_ADDRESS 85, PERSON 112" in md


def test_leaked_value_lines_are_masked_unless_revealed():
    from genleak.report.leakage import _top_real, leaked_value_lines

    rows = [{"type": "EMAIL_ADDRESS", "masked": "j***@e***.com", "value_id": "a1", "real": True, "in_finetune": True},
            {"type": "EMAIL_ADDRESS", "masked": "m***@e***.com", "value_id": "b2", "real": True, "in_finetune": False},
            {"type": "EMAIL_ADDRESS", "masked": "j***@e***.com", "value_id": "a1", "real": True, "in_finetune": True}]
    top = _top_real(rows, 10)
    assert [v["value_id"] for v in top] == ["b2", "a1"] and top[1]["count"] == 2  # pretraining leaks first
    md = "\n".join(leaked_value_lines({"generated": top}))
    assert "`m***@e***.com` | b2 | 1 | no |" in md and "masked" in md
    revealed = _top_real([{**rows[1], "value": "megan@enron.com"}], 10)
    assert "`megan@enron.com`" in "\n".join(leaked_value_lines({"generated": revealed}))


def test_finetune_lists_are_a_sweep_with_labels_of_the_swept_dimensions_only():
    spec = load_spec_text("finetune: {method: lora, learning_rate: [1.0e-4, 1.0e-3], seed: [1, 2]}")
    settings = spec.finetune.settings()
    assert [s.label for s in settings] == ["lr=0.0001 seed=1", "lr=0.0001 seed=2", "lr=0.001 seed=1", "lr=0.001 seed=2"]
    assert {s.group for s in settings} == {"lora lr=0.0001", "lora lr=0.001"}
    assert [s.label for s in load_spec_text("name: x").finetune.settings()] == [""]  # no sweep, no label
    for text, message in (("finetune: {learning_rate: [1.0e-4, -1]}", "must be > 0"),
                          ("finetune: {seed: []}", "at least one"), ("finetune: {method: [lora, lora]}", "twice")):
        with pytest.raises(InvalidSpec, match=message):
            load_spec_text(text)


def _swept(condition, epoch, lr, seed, fuzzy_at_02):
    attack = attack_result(condition, epoch, (fuzzy_at_02, 0, 0))
    return {**attack, "setting": {"method": "lora", "learning_rate": lr, "seed": seed},
            "setting_label": f"lr={lr:g} seed={seed}", "setting_group": f"lora lr={lr:g}"}


def test_sweep_report_takes_best_over_settings_and_mean_sd_over_seeds():
    spec = ExperimentSpec(attack={"templates": ["A"], "temperatures": [0.2, 1.0]},
                          finetune={"epochs": 1, "learning_rate": [1e-4, 1e-3], "seed": [1, 2]},
                          conditions=["base", "original"], leakage=None)
    attacks = [attack_result("base", 0, (4, 2, 1)), _swept("original", 1, 1e-4, 1, 3), _swept("original", 1, 1e-4, 2, 5),
               _swept("original", 1, 1e-3, 1, 9), _swept("original", 1, 1e-3, 2, 7)]
    report = build_report(spec, "r", {"attacks": attacks, "stage_seconds": {}, "inputs": {}}, {})
    assert report["best"]["fuzzy"]["A"]["original"] == {"count": 9, "temperature": 0.2, "epoch": 1,
                                                        "setting": "lr=0.001 seed=1"}
    rows = {r["group"]: r for r in report["per_setting"]["fuzzy"] if r["condition"] == "original"}
    assert rows["lora lr=0.001"]["temperatures"]["0.2"]["mean"] == 8 and rows["lora lr=0.001"]["seeds"] == 2
    md = render_markdown(report)
    assert "9 (T=0.2, ep 1, lr=0.001 seed=1)" in md
    assert "| A | original | lora lr=0.0001 | 2 | 4.0 ± 1.4 |" in md and "| A | base | - | 1 | 4 |" in md
    from genleak.report.html import render_html

    page = render_html(report)
    assert "4.0 ± 1.4" in page and "9 (T=0.2, ep 1, lr=0.001 seed=1)" in page


def test_few_shot_paper_is_a_built_in_set_published_once(tmp_path):
    from genleak.core.builtin_data import PAPER_FEW_SHOT, publish_builtin_few_shot
    from genleak.core.datasets import load_records
    from genleak.core.settings import StoreSettings
    from genleak.core.store import ArtifactStore

    spec = load_spec_text("name: x\nlab: {preset: tiny}\ndata: {few_shot: paper}\n")
    assert spec.data.few_shot == "paper" and spec.attack.n_shots == 5
    with pytest.raises(InvalidSpec, match=r"data.few_shot: unknown built-in few-shot set 'papr'; valid: paper"):
        load_spec_text("name: x\nlab: {preset: tiny}\ndata: {few_shot: papr}\n")
    store = ArtifactStore(StoreSettings(root=f"file://{tmp_path}/store", cache_dir=tmp_path / "cache"))
    ref = publish_builtin_few_shot(store, "paper")
    assert publish_builtin_few_shot(store, "paper") == ref
    assert load_records(store, ref) == [dict(p) for p in PAPER_FEW_SHOT]
    assert [p["name"] for p in PAPER_FEW_SHOT] == ["John Klauberg", "Corrinne Greasley", "Carole C. Frank",
                                                    "Michael J Zimmer", "Suzanne Bertin"]


ENRON_WITH_REPEATS = [  # rows 0 and 2 are one person twice; row 5 repeats row 0's whole record
    {"prompt": f"mail {i}", "continuation": " c", "gt-name": name, "gt-email": email}
    for i, (name, email) in enumerate([("Ann Lee", "ann@enron.com"), ("Bob Roe", "bob@enron.com"),
                                       ("Ann Lee", "ann@enron.com"), ("Cy Doe", "cy@enron.com"),
                                       ("Di Poe", "di@enron.com"), ("Ann Lee", "ann@enron.com")])
]


def test_one_enron_file_for_targets_and_prompts_needs_disjoint_rows():
    base = "name: x\nlab: null\ntarget: /m\ngenerator: {model: /g}\nattack: {perplexity_dataset: null}\n"
    with pytest.raises(InvalidSpec, match=r"^data.prompt_rows: data.prompts and data.pii_targets are the same"):
        load_spec_text(base + "data: {prompts: e.jsonl, pii_targets: e.jsonl, few_shot: paper, people: null}\n")
    with pytest.raises(InvalidSpec, match="data.prompt_rows"):
        load_spec_text(base + "data: {prompts: e.jsonl, pii_targets: e.jsonl, few_shot: paper, people: null, "
                              "target_rows: '0:3', prompt_rows: '2:'}\n")
    with pytest.raises(InvalidSpec, match=r"data.target_rows: .*start:end"):
        load_spec_text(base + "data: {target_rows: '10'}\n")
    spec = load_spec_text(base + "data: {prompts: e.jsonl, pii_targets: e.jsonl, few_shot: paper, people: null, "
                                 "target_rows: '0:3', prompt_rows: '3:'}\n")
    assert spec.data.row_slice("target_rows") == slice(0, 3) and spec.data.row_slice("prompt_rows") == slice(3, None)


def test_queried_rows_are_taken_as_they_are_and_never_from_the_training_rows(tmp_path):
    """The controller's inputs for the paper's one-file layout: targets = rows 0..2 with the repeated
    person twice; prompts (generation and the 'original' fine-tune) = rows 3.. only."""
    import json

    from genleak.controller.runner import ExperimentRunner
    from genleak.core.datasets import load_records
    from genleak.core.dataset_import import import_dataset_file
    from genleak.core.progress import NULL_REPORTER
    from genleak.core.settings import StoreSettings
    from genleak.core.store import ArtifactStore
    from genleak.rpc.convert import ref_from_proto

    store = ArtifactStore(StoreSettings(root=f"file://{tmp_path}/store", cache_dir=tmp_path / "cache"))
    path = tmp_path / "enron.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ENRON_WITH_REPEATS))
    prompts = import_dataset_file(store, path).uri
    targets = import_dataset_file(store, path, view="pii_targets").uri
    spec = load_spec_text(f"name: x\nlab: null\ntarget: /m\ngenerator: {{model: /g}}\nattack: {{perplexity_dataset: "
                          f"null}}\ndata: {{prompts: {prompts}, pii_targets: {targets}, few_shot: paper, people: null, "
                          f"target_rows: '0:3', prompt_rows: '3:'}}\n")
    inputs = ExperimentRunner(clients=None, lab_provider=None, store=store)._resolve_inputs(spec, NULL_REPORTER)
    queried = load_records(store, ref_from_proto(inputs["pii_targets"]))
    assert [(p["name"], p["row"]) for p in queried] == [("Ann Lee", 0), ("Bob Roe", 1), ("Ann Lee", 2)]
    trained = load_records(store, ref_from_proto(inputs["prompts"]))
    assert [r["prompt"] for r in trained] == ["mail 3", "mail 4", "mail 5"]
    assert inputs["generation_source"] == inputs["prompts"]
    assert not {r["prompt"] for r in trained} & {ENRON_WITH_REPEATS[p["row"]]["prompt"] for p in queried}
    assert [p["name"] for p in load_records(store, ref_from_proto(inputs["few_shot"]))][0] == "John Klauberg"


def test_reports_order_every_condition_the_spec_accepts():
    """genleak.report orders conditions without importing the controller: its order covers the spec's."""
    from typing import get_args

    from genleak.controller.spec import Condition
    from genleak.report.conditions import CONDITION_ORDER, PLANTED

    assert set(CONDITION_ORDER) == set(get_args(Condition)) and len(CONDITION_ORDER) == len(set(CONDITION_ORDER))
    assert CONDITION_ORDER[0] == "base" and CONDITION_ORDER[-1] == PLANTED


# ---- several generators (`generators:`) ---------------------------------------------------------

TWO_GENERATORS = """
name: g
conditions: [base, original, generated, generated-scrubbed]
generators:
  - {name: cool, sampling: {temperature: 0.5}}
  - {name: gemma, model: "zoo:gemma-3-270m", sampling: {temperature: 0.5}}
"""


def test_generators_are_full_generator_sections_with_a_name():
    from genleak.controller.spec import GENERATED_CONDITIONS

    spec = load_spec_text(TWO_GENERATORS)
    assert [g.name for g in spec.generators] == ["cool", "gemma"] and spec.generation_task() == "continuation"
    assert [g.model for g in spec.generator_list()] == ["lab:generator", "zoo:gemma-3-270m"]
    assert {"lab:generator", "zoo:gemma-3-270m"} <= set(spec.references())
    one = spec.for_generator("gemma")
    assert one.generators is None and one.generator.model == "zoo:gemma-3-270m" and "name" not in one.generator.model_fields
    # the name is a label: the generation job's params are the section's, as under `generator:`
    assert spec.generators[1].params() == one.generator.params()
    assert set(spec.generated_conditions()) == set(GENERATED_CONDITIONS)
    # membership: every entry gets the scenario's task unless it names one
    mia = load_spec_text("scenario: membership\ngenerators: [{name: a}, {name: b, model: lab:target}]\n")
    assert [g.task for g in mia.generators] == ["self_instruct", "self_instruct"]


@pytest.mark.parametrize("text, field, message", [
    ("generator: {model: lab:generator}\ngenerators: [{name: a}]", "generators",
     "give `generator` or `generators`, not both"),
    ("generators: [{name: a}, {name: a, model: zoo:gemma-3-270m}]", "generators", "generator name 'a' is used twice"),
    ("generators: [{name: a}, {name: b}]", "generators", "generators 'a' and 'b' are the same generator"),
    ("generators: [{name: a, task: self_instruct}, {name: b, model: m}]", "generators",
     "every generator must have the same task (a: self_instruct, b: continuation)"),
    ("generators: [{name: 'a b'}]", "generators.0.name", "should match pattern"),
    ("generators: [{name: a}]\nconditions: [base, original]", "generators", "needs a generated condition"),
    ("generators: [{name: a, config: {temperature: 1}, sampling: {temperature: 1}}]", "generators.0",
     "temperature set in both sampling and config of generator 'a'"),
    ("scenario: membership\ngenerators: [{name: a}, {name: b, model: m, shards: 2}]", "generators.1.shards",
     "cannot be sharded"),
    ("generators: []", "generators", "at least 1 item"),
    ("generators: [{model: m}]", "generators.0.name", "Field required"),
])
def test_bad_generators_name_the_key(text, field, message):
    with pytest.raises(InvalidSpec) as err:
        load_spec_text(text)
    assert err.value.field == field and message in str(err.value), str(err.value)


def test_a_generator_spec_hashes_and_plans_as_before_generators_existed():
    """`generators` is left out of the dump while unset: the spec hash (run folders, the experiment job's
    identity) and the stage names of every `generator:` spec are what they were."""
    import glob

    from genleak.controller.runner import plan_stages
    from genleak.core.hashing import canonical_json, sha256_bytes

    for path in sorted(glob.glob(str(Path(__file__).resolve().parents[2] / "examples" / "*.yaml"))):
        spec = load_spec_text(Path(path).read_text())
        if spec.generators:
            continue
        dump = spec.model_dump(mode="json")
        assert "generators" not in dump
        assert spec.spec_hash() == sha256_bytes(canonical_json(dump).encode())
        assert not any(":" in name for name in plan_stages(spec) if name.startswith(("generate", "finetune")))
    assert load_spec_text("name: x").spec_hash() == load_spec_text("name: x\ngenerators: null").spec_hash()
    assert "generators" in load_spec_text(TWO_GENERATORS).model_dump()


def test_each_generator_gets_its_own_stages_and_base_original_run_once():
    from genleak.controller.runner import plan_stages

    spec = load_spec_text(TWO_GENERATORS + "finetune: {epochs: 1}\nleakage: null\nattack: {checkpoints: last}\n")
    assert plan_stages(spec) == [
        "lab", "generate[generated:cool]", "generate[generated-scrubbed:cool]", "generate[generated:gemma]",
        "generate[generated-scrubbed:gemma]", "attack[base]", "finetune[original]", "attack[original@epoch1]",
        "finetune[generated:cool]", "attack[generated:cool@epoch1]", "finetune[generated:gemma]",
        "attack[generated:gemma@epoch1]", "finetune[generated-scrubbed:cool]", "attack[generated-scrubbed:cool@epoch1]",
        "finetune[generated-scrubbed:gemma]", "attack[generated-scrubbed:gemma@epoch1]"]
