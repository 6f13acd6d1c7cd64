"""Real-world dataset formats -> dataset artifacts: Parquet, Arrow IPC (the paper's original_data.arrow),
Hugging Face save_to_disk folders, the paper's Enron file, Alpaca / Wang et al. seed tasks; and the
paper's scenario A spec in examples/."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from genleak.cli import _parser
from genleak.cli.run import upload_local_datasets
from genleak.core.datasets import load_records
from genleak.core.errors import InvalidSpec
from genleak.core.dataset_import import import_dataset_file, import_enron_file, is_local_data_file
from genleak.core.settings import StoreSettings
from genleak.core.store import ArtifactStore

ROOT = Path(__file__).resolve().parents[2]
ROWS = [{"text": "first member", "n": 1}, {"text": "second member", "n": 2}, {"text": "third", "n": 3}]
ENRON = [
    {"prompt": "From: Ann Lee\nTo:", "continuation": " the team", "gt-name": "Ann Lee",
     "gt-email": "ann.lee@enron.com"},
    {"prompt": "Bob,", "continuation": " see below", "gt-name": "Bob Roe", "gt-email": "bob.roe@enron.com"},
    {"prompt": "Ann again", "continuation": " hi", "gt-name": "Ann Lee", "gt-email": "ann.lee@enron.com"},
    {"prompt": "Cy", "continuation": " ok", "gt-name": "Cy Doe", "gt-email": "cy@enron.com"},
]


@pytest.fixture
def store(tmp_path):
    return ArtifactStore(StoreSettings(root=f"file://{tmp_path}/store", cache_dir=tmp_path / "cache"))


def _write_stream(path: Path, rows: list[dict]) -> None:
    table = pa.Table.from_pylist(rows)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)


def _save_to_disk(folder: Path, shards: list[list[dict]]) -> None:
    """The layout datasets' Dataset.save_to_disk writes: stream-format shards + dataset_info.json + state.json."""
    folder.mkdir(parents=True)
    names = [f"data-{i:05d}-of-{len(shards):05d}.arrow" for i in range(len(shards))]
    for name, rows in zip(names, shards):
        _write_stream(folder / name, rows)
    (folder / "dataset_info.json").write_text(json.dumps({"features": {"text": {"dtype": "string", "_type": "Value"}}}))
    (folder / "state.json").write_text(json.dumps({"_data_files": [{"filename": n} for n in names],
                                                   "_fingerprint": "abc", "_format_type": None, "_split": None}))


def test_parquet_and_both_arrow_formats_import_by_content(store, tmp_path):
    """A .parquet file (pandas index column dropped), an Arrow IPC stream (the paper's renamed
    save_to_disk shard, data/original_data.arrow) and an Arrow IPC file all give the same records;
    the same bytes twice are one artifact."""
    table = pa.Table.from_pylist(ROWS)
    pq.write_table(table.append_column("__index_level_0__", pa.array([7, 8, 9])), tmp_path / "members.parquet")
    _write_stream(tmp_path / "original_data.arrow", ROWS)
    with pa.OSFile(str(tmp_path / "file_format.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    for name in ("members.parquet", "original_data.arrow", "file_format.arrow"):
        assert is_local_data_file(str(tmp_path / name))
        ref = import_dataset_file(store, tmp_path / name)
        assert load_records(store, ref) == ROWS, name
        assert import_dataset_file(store, tmp_path / name).uri == ref.uri


def test_save_to_disk_folder_reads_shards_in_state_json_order(store, tmp_path):
    """Shards are read in state.json's order; a DatasetDict with one split resolves to it, with
    several it names them; a plain folder is not a dataset."""
    folder = tmp_path / "ds"
    _save_to_disk(folder, [ROWS[:2], ROWS[2:]])
    assert is_local_data_file(str(folder))
    ref = import_dataset_file(store, folder)
    assert load_records(store, ref) == ROWS
    state = json.loads((folder / "state.json").read_text())
    state["_data_files"].reverse()
    (folder / "state.json").write_text(json.dumps(state))
    reordered = import_dataset_file(store, folder)
    assert reordered.uri != ref.uri and load_records(store, reordered) == ROWS[2:] + ROWS[:2]

    one = tmp_path / "dict1"
    _save_to_disk(one / "train", [ROWS])
    (one / "dataset_dict.json").write_text(json.dumps({"splits": ["train"]}))
    assert load_records(store, import_dataset_file(store, one)) == ROWS
    two = tmp_path / "dict2"
    _save_to_disk(two / "train", [ROWS])
    _save_to_disk(two / "test", [ROWS[:1]])
    (two / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "test"]}))
    with pytest.raises(InvalidSpec, match="splits train, test"):
        import_dataset_file(store, two, "mia.members")
    assert load_records(store, import_dataset_file(store, two / "test")) == ROWS[:1]
    (tmp_path / "plain").mkdir()
    assert not is_local_data_file(str(tmp_path / "plain"))
    with pytest.raises(InvalidSpec, match="not a save_to_disk dataset"):
        import_dataset_file(store, tmp_path / "plain")


def test_arrow_values_json_cannot_hold_are_converted_and_bad_files_are_invalid_spec(store, tmp_path):
    rows = [{"when": dt.datetime(2001, 5, 1, 9, 30), "day": dt.date(2001, 5, 1), "amount": decimal.Decimal("1.50"),
             "raw": b"caf\xc3\xa9", "blob": b"\xff\x00", "tags": ["a", "b"], "meta": {"k": 1}}]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "typed.parquet")
    (record,) = load_records(store, import_dataset_file(store, tmp_path / "typed.parquet"))
    assert record == {"when": "2001-05-01T09:30:00", "day": "2001-05-01", "amount": "1.50", "raw": "café",
                      "blob": "/wA=", "tags": ["a", "b"], "meta": {"k": 1}}
    (tmp_path / "bad.arrow").write_bytes(b"not arrow at all")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 nope")
    pq.write_table(pa.table({"text": pa.array([], pa.string())}), tmp_path / "empty.parquet")
    for name, match in (("bad.arrow", "not an Arrow IPC"), ("bad.parquet", "not a readable Parquet"),
                        ("empty.parquet", "holds no records")):
        with pytest.raises(InvalidSpec, match=match) as err:
            import_dataset_file(store, tmp_path / name, "mia.members")
        assert err.value.field == "mia.members"


def test_without_pyarrow_columnar_files_fail_clearly_and_json_still_imports(store, tmp_path, monkeypatch):
    _write_stream(tmp_path / "data.arrow", ROWS)
    (tmp_path / "m.jsonl").write_text('{"text": "m"}\n')
    monkeypatch.setitem(__import__("sys").modules, "pyarrow", None)  # as if not installed
    with pytest.raises(InvalidSpec, match="need pyarrow"):
        import_dataset_file(store, tmp_path / "data.arrow")
    assert load_records(store, import_dataset_file(store, tmp_path / "m.jsonl")) == [{"text": "m"}]


def test_enron_file_becomes_prompts_and_pii_targets_row_by_row(store, tmp_path):
    """The paper's enron.jsonl: the prompts dataset is the rows as they are (genleak's prompts
    format), pii_targets is {name, email, row} per row, repeats kept as the official code queries
    them; a non-Enron file is refused."""
    path = tmp_path / "enron.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ENRON))
    refs = import_enron_file(store, path)
    assert load_records(store, refs["prompts"]) == ENRON
    assert refs["prompts"].uri == import_dataset_file(store, path).uri  # the same artifact as a plain import
    assert load_records(store, refs["pii_targets"]) == [
        {"name": "Ann Lee", "email": "ann.lee@enron.com", "row": 0},
        {"name": "Bob Roe", "email": "bob.roe@enron.com", "row": 1},
        {"name": "Ann Lee", "email": "ann.lee@enron.com", "row": 2},
        {"name": "Cy Doe", "email": "cy@enron.com", "row": 3}]
    # The same conversion from Parquet (any supported format works).
    pq.write_table(pa.Table.from_pylist(ENRON), tmp_path / "enron.parquet")
    assert load_records(store, import_enron_file(store, tmp_path / "enron.parquet")["pii_targets"]) == \
        load_records(store, refs["pii_targets"])
    (tmp_path / "m.jsonl").write_text('{"text": "x"}\n')
    with pytest.raises(InvalidSpec, match="lack a string 'prompt'"):
        import_enron_file(store, tmp_path / "m.jsonl", "file")


def test_cli_data_import_as_enron_prints_both_uris(store, tmp_path, monkeypatch, capsys):
    path = tmp_path / "enron.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ENRON))
    monkeypatch.setenv("GENLEAK_CACHE_DIR", str(tmp_path / "cache"))
    args = _parser().parse_args(["data", "import", str(path), "--as", "enron", "--store", str(tmp_path / "store")])
    assert args.func(args) == 0
    lines = dict(line.split(maxsplit=1) for line in capsys.readouterr().out.splitlines())
    assert set(lines) == {"prompts.uri", "prompts.sha256", "pii_targets.uri", "pii_targets.sha256"}
    assert load_records(store, lines["pii_targets.uri"])[1] == {"name": "Bob Roe", "email": "bob.roe@enron.com",
                                                                 "row": 1}
    args = _parser().parse_args(["data", "import", str(path), "--store", str(tmp_path / "store")])
    assert args.func(args) == 0 and capsys.readouterr().out.startswith(f"uri    {lines['prompts.uri']}\n")


def test_spec_accepts_the_enron_file_and_columnar_datasets_directly(store, tmp_path):
    """data.prompts and data.pii_targets may both name enron.jsonl (pii_targets gets gt-name/gt-email
    -> name/email); a Parquet file and a save_to_disk folder are uploaded like JSONL; a pii_targets
    file already in {name, email} is kept as it is."""
    (tmp_path / "enron.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ENRON))
    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "members.parquet")
    _save_to_disk(tmp_path / "nonmembers", [ROWS[:1]])
    spec = ("name: x\ndata: {prompts: enron.jsonl, pii_targets: enron.jsonl}\n"
            "mia: {members: members.parquet, nonmembers: nonmembers}\n")
    data = yaml.safe_load(upload_local_datasets(spec, store, tmp_path))
    assert load_records(store, data["data"]["prompts"]) == ENRON
    assert [p["name"] for p in load_records(store, data["data"]["pii_targets"])] == [
        "Ann Lee", "Bob Roe", "Ann Lee", "Cy Doe"]  # every row, repeats kept
    assert load_records(store, data["mia"]["members"]) == ROWS
    assert load_records(store, data["mia"]["nonmembers"]) == ROWS[:1]
    people = [{"name": "Dee", "email": "dee@x.org", "gt-name": "ignored", "gt-email": "ignored@x.org"}]
    (tmp_path / "people.json").write_text(json.dumps(people))
    data = yaml.safe_load(upload_local_datasets("data: {pii_targets: people.json}\n", store, tmp_path))
    assert load_records(store, data["data"]["pii_targets"]) == people


def test_alpaca_list_and_wang_seed_tasks_import_and_parse(store, tmp_path):
    """Both seed formats users already have import as datasets and parse as self-instruct seed tasks."""
    from genleak.generator.tasks.self_instruct_seeds import normalize_seed_tasks

    alpaca = [{"instruction": "Give three tips for staying healthy.", "input": "", "output": "Eat, sleep, move."},
              {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour"}]
    (tmp_path / "alpaca_data.json").write_text(json.dumps(alpaca))
    wang = [{"id": "seed_task_0", "name": "breakfast_suggestion", "instruction": "Is there anything I can eat for a "
             "breakfast that doesn't include eggs?", "instances": [{"input": "", "output": "Yes: oatmeal."}],
             "is_classification": False},
            {"id": "seed_task_1", "name": "antonym", "instruction": "Give the antonym.",
             "instances": [{"input": "happy", "output": "sad"}, {"input": "big", "output": "small"}],
             "is_classification": False}]
    (tmp_path / "seed_tasks.jsonl").write_text("".join(json.dumps(t) + "\n" for t in wang))
    seeds = normalize_seed_tasks(load_records(store, import_dataset_file(store, tmp_path / "alpaca_data.json")))
    assert [(s.instruction, [(e.input, e.output) for e in s.examples]) for s in seeds] == [
        ("Give three tips for staying healthy.", [("", "Eat, sleep, move.")]),
        ("Translate to French.", [("Good morning", "Bonjour")])]
    seeds = normalize_seed_tasks(load_records(store, import_dataset_file(store, tmp_path / "seed_tasks.jsonl")))
    assert [len(s.examples) for s in seeds] == [1, 2] and seeds[1].examples[1].output == "small"
    assert seeds[0].examples[0].input == ""  # an empty input = the task takes none
    spec = yaml.safe_load(upload_local_datasets("data: {seed_tasks: seed_tasks.jsonl}\n", store, tmp_path))
    assert len(normalize_seed_tasks(load_records(store, spec["data"]["seed_tasks"]))) == 2


def test_paper_scenario_a_example_holds_the_papers_settings():
    """examples/paper_scenario_a.yaml validates and carries docs/paper.md's scenario A values."""
    from genleak.controller.spec import load_spec_text
    from genleak.finetuner.methods import get_method

    text = (ROOT / "examples" / "paper_scenario_a.yaml").read_text()
    spec = load_spec_text(text, source="paper_scenario_a.yaml")
    assert spec.scenario == "extraction" and spec.lab is None and not spec.uses_lab()
    assert spec.target.endswith("pythia-1.4b") and spec.generator.model.endswith("pythia-12b")
    g = spec.generator
    assert (g.task, g.engine.name, g.config["max_prompt_tokens"]) == ("continuation", "vllm", 2048)
    s = g.sampling
    assert (s.temperature, s.top_k, s.top_p, s.max_new_tokens) == (0.75, 100, 1.0, 1000)
    f = spec.finetune
    lora = get_method(f.method).parse_config(f.method_config)
    assert (f.method, lora.r, lora.lora_alpha, lora.lora_dropout, lora.target_modules, lora.bias) == \
        ("lora", 64, 16, 0.05, "all-linear", "none")
    assert (f.learning_rate, f.epochs, f.batch_size * f.grad_accum, f.max_length, f.last_n, f.seed) == \
        (2e-6, 4, 32, 2048, 2220, 3407)
    assert f.train_on_prompt
    a = spec.attack
    assert list(a.templates) == ["A", "B", "C", "D"] and list(a.temperatures) == [0.01, 0.1, 0.2, 0.5, 0.75, 1.0, 1.25, 1.5]
    assert (a.max_new_tokens, a.top_k, a.threshold, a.n_targets, a.checkpoints) == (15, 100, 80, 1000, "all")
    assert spec.conditions == ["base", "original", "generated"] and spec.leakage is None
    assert spec.data.few_shot == "paper" and a.n_shots == 5  # the paper's five demonstration pairs, built in
    assert (a.perplexity_samples, a.perplexity_fields) == (1110, ["prompt", "continuation"])  # rows 0-1109
    # The Enron file feeds both prompts and pii_targets; the datasets are local files genleak run uploads.
    raw = yaml.safe_load(text)
    assert raw["data"]["pii_targets"] == raw["data"]["prompts"] == "data/enron.jsonl"
    assert (spec.data.target_rows, spec.data.prompt_rows) == ("0:1000", "1110:")  # the official code's split
