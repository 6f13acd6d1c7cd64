"""The lab: the paper's split design, determinism, loadable HF folders, lab.json (tiny preset)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from genleak.core.errors import Cancelled, InvalidSpec
from genleak.core.progress import Reporter
from genleak.lab import LabConfig, build_lab, load_lab_result
from genleak.lab.build import make_lab_datasets
from genleak.lab.datasets import DATASET_NAMES, read_jsonl

TINY = LabConfig.preset("tiny")
MAILTO_FORMS = ("[mailto:{email}]", "[mailto: {email}]")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    events: list[tuple[str, int, int, str]] = []
    result = build_lab(TINY, tmp_path_factory.mktemp("lab"), Reporter(lambda *event: events.append(event)))
    return result, events


@pytest.fixture(scope="module")
def data(lab) -> dict[str, list[dict]]:
    result, _ = lab
    return {name: read_jsonl(result.datasets[name]) for name in DATASET_NAMES}


def test_layout_matches_the_contract(lab):
    result, _ = lab
    for name in DATASET_NAMES:
        assert (result.out_dir / "datasets" / name / "data.jsonl").is_file()
    for role in ("target", "generator"):
        folder = result.out_dir / "models" / role
        for file in ("config.json", "model.safetensors", "generation_config.json", "tokenizer.json",
                     "tokenizer_config.json"):
            assert (folder / file).is_file(), f"{role}/{file}"
    for file in ("config.json", "model.safetensors", "tokenizer.json"):
        assert (result.mask_model_dir / file).is_file(), f"mask_model/{file}"
    assert (result.out_dir / "lab.json").is_file()


def test_mask_model_is_a_masked_lm_trained_on_mail_it_never_perturbs(lab, data):
    """lab:mask_model loads with the Auto classes the neighbourhood attack uses, with a fast tokenizer
    (character offsets), and learnt the domain: its masked-token loss on held-out lab mail is well
    below a uniform guess over its vocabulary."""
    import math

    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    result, _ = lab
    tokenizer = AutoTokenizer.from_pretrained(str(result.mask_model_dir))
    model = AutoModelForMaskedLM.from_pretrained(str(result.mask_model_dir), use_safetensors=True).eval()
    assert tokenizer.is_fast and tokenizer.mask_token == "[MASK]"
    train = result.stats["train"]["mask_model"]
    assert train["final_epoch_loss"] < train["first_step_loss"]
    text = data["nonmembers"][0]["text"]
    ids = tokenizer(text, return_tensors="pt", truncation=True, max_length=128)["input_ids"]
    labels = torch.full_like(ids, -100)
    masked = ids.clone()
    positions = list(range(1, ids.shape[1] - 1, 5))
    labels[0, positions], masked[0, positions] = ids[0, positions], tokenizer.mask_token_id
    with torch.no_grad():
        loss = model(input_ids=masked, labels=labels).loss.item()
    assert loss < 0.9 * math.log(len(tokenizer))


def test_no_pickle_checkpoints(lab):
    result, _ = lab
    pickle_suffixes = {".bin", ".pt", ".pth", ".pkl", ".ckpt"}
    pickles = [p for p in (result.out_dir / "models").rglob("*") if p.suffix in pickle_suffixes]
    assert pickles == []


def test_row_fields(data):
    assert set(data["members"][0]) == {"doc_id", "text"}
    assert set(data["nonmembers"][0]) == {"doc_id", "text"}
    assert set(data["prompts"][0]) == {"doc_id", "prompt", "continuation", "gt-name", "gt-email"}
    assert set(data["pii_targets"][0]) == {"person_id", "name", "email", "phone", "address"}
    assert set(data["few_shot"][0]) == {"person_id", "name", "email"}
    assert set(data["people"][0]) == {"person_id", "name", "email", "phone", "address", "role"}


def test_counts_follow_the_config(data):
    roles = [p["role"] for p in data["people"]]
    assert len(data["members"]) == TINY.emails
    assert len(data["nonmembers"]) == TINY.n_nonmember_emails
    assert len(data["prompts"]) == TINY.n_prompt_docs
    assert len(data["pii_targets"]) == roles.count("eval") == TINY.n_eval_people
    assert len(data["few_shot"]) == roles.count("fewshot") == 5
    assert len(data["people"]) == TINY.n_people


def test_eval_people_are_memorisable_members(data):
    k = TINY.corpus.min_docs_per_eval_person
    for person in data["pii_targets"]:
        docs = [d["text"] for d in data["members"] if person["email"] in d["text"]]
        assert len(docs) >= k, person
        assert all(person["name"] in text for text in docs)
        mailto = [f"{person['name']} " + form.format(email=person["email"]) for form in MAILTO_FORMS]
        assert any(line in text for text in docs for line in mailto), f"no mailto line for {person['name']}"


def test_eval_people_never_in_prompts_or_few_shot(data):
    prompt_texts = [row["prompt"] + row["continuation"] for row in data["prompts"]]
    few_shot = {(p["name"], p["email"]) for p in data["few_shot"]}
    for person in data["pii_targets"]:
        assert (person["name"], person["email"]) not in few_shot
        for text in prompt_texts:
            assert person["name"] not in text and person["email"] not in text
            assert person["email"].split("@")[0] + "@" not in text
    assert all(row["gt-email"] not in {p["email"] for p in data["pii_targets"]} for row in data["prompts"])


def test_prompts_are_member_documents_of_tuning_people(data):
    members = {d["doc_id"]: d["text"] for d in data["members"]}
    tuning_names = {p["name"] for p in data["people"] if p["role"] == "tuning"}
    for row in data["prompts"]:
        assert row["prompt"] + row["continuation"] == members[row["doc_id"]]
        assert row["prompt"] and row["continuation"]
        assert row["gt-name"] in tuning_names and row["gt-email"] in row["prompt"] + row["continuation"]
    for person in data["people"]:
        if person["role"] != "tuning":
            assert not any(person["email"] in row["prompt"] + row["continuation"] for row in data["prompts"])


def test_nonmembers_disjoint_from_members(data):
    member_texts = {d["text"] for d in data["members"]}
    assert not member_texts & {d["text"] for d in data["nonmembers"]}
    ids = [d["doc_id"] for d in data["members"] + data["nonmembers"]]
    assert len(ids) == len(set(ids))


def test_same_seed_same_bytes_other_seed_other_bytes(lab, tmp_path):
    result, _ = lab
    make_lab_datasets(TINY, tmp_path / "again")
    make_lab_datasets(TINY.model_copy(update={"seed": TINY.seed + 1}), tmp_path / "other")
    for name in DATASET_NAMES:
        built = result.datasets[name].read_bytes()
        assert (tmp_path / "again" / name / "data.jsonl").read_bytes() == built, name
        assert (tmp_path / "other" / name / "data.jsonl").read_bytes() != built, name


def test_emails_are_not_one_pattern_or_domain(data):
    emails = [p["email"] for p in data["people"]]
    assert len(set(emails)) == len(emails)
    assert len({e.split("@")[1] for e in emails}) >= 10
    assert sum("." in e.split("@")[0] for e in emails) < len(emails) / 2


def test_models_and_tokenizer_load_with_auto_classes(lab, data):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    result, _ = lab
    loaded = {}
    for role, arch in (("target", "GPTNeoXForCausalLM"), ("generator", "LlamaForCausalLM")):
        folder = result.out_dir / "models" / role
        model = AutoModelForCausalLM.from_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        assert type(model).__name__ == arch
        assert model.config.vocab_size == len(tokenizer)
        assert tokenizer.eos_token == "<|endoftext|>" and tokenizer.pad_token == "<|pad|>"
        assert model.config.eos_token_id == tokenizer.eos_token_id != model.config.pad_token_id
        for text in (data["members"][0]["text"], "—–Original Message—–\n From: Ann Lee [mailto: a@b.com"):
            assert tokenizer.decode(tokenizer(text)["input_ids"]) == text
        loaded[role] = sum(p.numel() for p in model.parameters())
    assert loaded["generator"] > loaded["target"]


def test_lab_json_round_trips(lab):
    result, _ = lab
    raw = json.loads(result.lab_json.read_text())
    assert LabConfig.model_validate(raw["config"]) == TINY
    again = load_lab_result(result.out_dir)
    assert again.config == TINY and again.stats == result.stats
    assert set(result.stats["seconds"]) >= {"corpus", "tokenizer", "pretrain_target", "pretrain_generator", "total"}
    assert result.stats["counts"]["members"] == TINY.emails
    assert result.stats["tokens"]["truncated_docs"] == 0 and result.stats["tokens"]["max_doc_tokens"] <= 230
    for role in ("target", "generator"):
        train = result.stats["train"][role]
        assert train["final_epoch_loss"] < train["first_step_loss"]
        for probe in ("mailto_greedy", "template_d_greedy", "template_d_sampled"):
            assert result.memorization[role][probe]["total"] == TINY.n_eval_people
    assert result.memorization["summary"].startswith("target completes ")
    assert 0 <= result.target_exact <= result.n_eval == TINY.n_eval_people


def test_progress_reports_every_stage(lab):
    _, events = lab
    stages = {stage for stage, *_ in events}
    assert {"corpus", "tokenizer", "pretrain-target", "pretrain-generator", "memorization-target"} <= stages


def test_cancel_stops_the_build(tmp_path):
    cancel = threading.Event()

    def cancel_on_training(stage: str, done: int, total: int, message: str) -> None:
        if stage.startswith("pretrain"):
            cancel.set()

    with pytest.raises(Cancelled):
        build_lab(TINY, tmp_path, Reporter(cancel_on_training, cancel))
    assert not (tmp_path / "lab.json").exists()


def test_presets_and_overrides():
    default = LabConfig.preset("default")
    assert default == LabConfig() and TINY.preset_name == "tiny"
    custom = LabConfig.preset("tiny", {"seed": 7, "pretrain": {"epochs": 1}})
    assert custom.seed == 7 and custom.pretrain.epochs == 1 and custom.pretrain.batch_size == TINY.pretrain.batch_size
    assert custom.spec_hash() != TINY.spec_hash()
    with pytest.raises(InvalidSpec, match="unknown lab preset"):
        LabConfig.preset("huge")
    with pytest.raises(InvalidSpec):
        LabConfig.preset("tiny", {"emails": 10})
    with pytest.raises(InvalidSpec, match="pretrain"):
        LabConfig.preset("tiny", {"pretrain": {"epochs": 0}})


@pytest.mark.parametrize("name", ["tiny", "default"])
def test_generator_is_larger_than_target(name):
    from transformers import PreTrainedTokenizerFast

    from genleak.lab.models import count_parameters, new_generator, new_target
    from genleak.lab.tokenizer import train_tokenizer

    config = LabConfig.preset(name)
    tokenizer: PreTrainedTokenizerFast = train_tokenizer(["From: a <a@b.com>"] * 4, 300, 64)
    assert count_parameters(new_generator(config.generator, tokenizer, 0)) > count_parameters(
        new_target(config.target, tokenizer, 0))


def test_out_dir_reuse_needs_complete_build(tmp_path: Path):
    from genleak.core.errors import ArtifactNotFound

    with pytest.raises(ArtifactNotFound):
        load_lab_result(tmp_path)
