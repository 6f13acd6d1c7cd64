"""Bad input, fuzzed (issue 8): the experiment-spec loader, the core request specs and the dataset
readers answer every input with a value or an InvalidSpec naming the problem, never a crash."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genleak.controller.service import ControllerCore
from genleak.controller.spec import ExperimentSpec, load_spec_text
from genleak.core.datasets import read_jsonl, require_fields
from genleak.core.errors import InvalidSpec
from genleak.core.dataset_import import import_dataset_file
from genleak.core.settings import Settings, StoreSettings
from genleak.core.specs import ArtifactSpec, ModelSpec, check_input_size, parse_spec
from genleak.core.store import ArtifactStore
from genleak.engines.base import EngineConfig, SamplingConfig

ROOT = Path(__file__).resolve().parents[2]
FUZZ = settings(max_examples=120, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
TINY = yaml.safe_load((ROOT / "examples" / "tiny.yaml").read_text())
MEMBERSHIP = yaml.safe_load((ROOT / "examples" / "membership_tiny.yaml").read_text())

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


def _paths(data, prefix=()):
    """Every (path, value) inside nested dicts/lists."""
    yield prefix, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _paths(value, (*prefix, i))


def _set(data, path, value):
    data = copy.deepcopy(data)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


# ---- experiment spec loader

@FUZZ
@given(text=st.text(max_size=300))
def test_any_text_is_a_spec_or_invalid_spec(text, robustness_tally):
    try:
        spec = load_spec_text(text)
    except InvalidSpec as exc:
        assert exc.message
        robustness_tally.count("spec loader fuzz: random text", "INVALID")
    else:
        assert isinstance(spec, ExperimentSpec)
        robustness_tally.count("spec loader fuzz: random text", "valid")


@FUZZ
@given(data=st.data())
def test_mutated_example_specs_fail_naming_a_field(data, robustness_tally):
    base = data.draw(st.sampled_from([TINY, MEMBERSHIP]))
    path, _ = data.draw(st.sampled_from([p for p in _paths(base) if p[0]]))
    value = data.draw(JSON_VALUES)
    mutated = _set(base, path, value)
    try:
        load_spec_text(yaml.safe_dump(mutated))
    except InvalidSpec as exc:
        # The dotted path names the mutated key, one of its parents/children, or a cross-field rule.
        assert exc.field, exc.message
        robustness_tally.count("spec loader fuzz: mutated examples", "INVALID naming a field")
    else:
        robustness_tally.count("spec loader fuzz: mutated examples", "valid")


@FUZZ
@given(data=st.data(), key=st.text(min_size=1, max_size=12).filter(lambda k: k.strip() == k and k.isprintable()))
def test_an_unknown_key_anywhere_is_named(data, key, robustness_tally):
    base = data.draw(st.sampled_from([TINY, MEMBERSHIP]))
    dicts = [p for p, v in _paths(base) if isinstance(v, dict) and len(p) <= 1 and p[:1] != ("mia",)]
    path = data.draw(st.sampled_from(dicts))
    parent = base
    for part in path:
        parent = parent[part]
    if key in parent or key.lower() in ("true", "false", "null", "yes", "no", "on", "off", "~", "y", "n"):
        return
    mutated = _set(base, (*path, key), 1) if path else {**base, key: 1}
    with pytest.raises(InvalidSpec) as err:
        load_spec_text(yaml.safe_dump(mutated))
    assert err.value.field is not None and err.value.field.endswith(key), (err.value.field, key)
    robustness_tally.count("spec loader fuzz: unknown keys", "INVALID naming the key")


def test_yaml_alias_bomb_and_deep_nesting_are_refused_quickly(robustness_tally):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]  # 10^9 leaves
    bomb = (ROOT / "examples" / "tiny.yaml").read_text().replace(
        "  method_config: {r: 8, lora_alpha: 16, lora_dropout: 0.05}",
        "  method_config:\n" + "\n".join("    " + line for line in lines))
    with pytest.raises(InvalidSpec, match="more than"):
        load_spec_text(bomb)
    with pytest.raises(InvalidSpec, match="deeper"):
        load_spec_text("name: x\nfinetune: {method_config: {a: " + "[" * 100 + "]" * 100 + "}}")
    # The controller RPC path also survives nesting too deep for the YAML parser itself.
    for text in ["[" * 100_000, "a: " + "{b: " * 5000 + "}" * 5000]:
        with pytest.raises(InvalidSpec) as err:
            ControllerCore.parse_request(text, "")
        assert err.value.field in ("spec_yaml", None)
    with pytest.raises(InvalidSpec, match="run_name"):
        ControllerCore.parse_request("name: x\nlab: {preset: tiny}\n", "bad name/../x")
    robustness_tally.count("spec loader fuzz: bombs", "INVALID", 5)


# ---- core request specs (what every RPC converts its request into)

@FUZZ
@given(model=st.sampled_from([ModelSpec, ArtifactSpec, EngineConfig, SamplingConfig]),
       data=st.dictionaries(st.sampled_from(["uri", "sha256", "kind", "trust_remote_code", "name", "dtype",
                                             "batch_size", "max_model_len", "temperature", "top_k", "top_p",
                                             "max_new_tokens", "n", "seed", "bogus"]), JSON_VALUES, max_size=5))
def test_core_specs_validate_or_name_the_field(model, data, robustness_tally):
    try:
        parse_spec(model, data, "req")
    except InvalidSpec as exc:
        assert exc.field and exc.field.startswith("req"), exc.message
        robustness_tally.count("core spec fuzz", "INVALID naming a field")
    else:
        robustness_tally.count("core spec fuzz", "valid")


def test_input_size_guard_counts_expanded_aliases():
    shared = ["x"] * 1000
    check_input_size({"a": [shared] * 100})  # 100k values: fine
    with pytest.raises(InvalidSpec, match="more than"):
        check_input_size({"a": [[shared] * 100] * 100})


def test_bad_settings_are_one_invalid_spec_naming_the_variable():
    for env, name in [({"GENLEAK_MAX_QUEUED_JOBS": "lots"}, "GENLEAK_MAX_QUEUED_JOBS"),
                      ({"GENLEAK_JOB_WORKERS": "0"}, "GENLEAK_JOB_WORKERS"),
                      ({"GENLEAK_MAX_QUEUED_CALLS": "-1"}, "GENLEAK_MAX_QUEUED_CALLS")]:
        with pytest.raises(InvalidSpec, match=name):
            Settings.from_env(env)


# ---- dataset readers

@FUZZ
@given(raw=st.one_of(st.binary(max_size=300),
                     st.lists(JSON_VALUES, max_size=6).map(lambda rs: "\n".join(json.dumps(r) for r in rs).encode()),
                     st.text(max_size=200).map(lambda t: t.encode("utf-8")),
                     st.text(min_size=1, max_size=50).map(lambda t: json.dumps({"text": t}).encode("utf-16"))))
def test_any_bytes_are_records_or_invalid_spec_naming_the_line(tmp_path, raw, robustness_tally):
    path = tmp_path / "data.jsonl"
    path.write_bytes(raw)
    try:
        records = read_jsonl(path, "members")
    except InvalidSpec as exc:
        assert exc.field == "members" and "line " in exc.message
        robustness_tally.count("dataset reader fuzz (JSONL bytes)", "INVALID naming the line")
    else:
        assert all(isinstance(r, dict) for r in records)
        robustness_tally.count("dataset reader fuzz (JSONL bytes)", "records")


@pytest.mark.parametrize("raw, match", [
    ('{"text": "caf\u00e9"}\n'.encode("latin-1"), "line 1 is not UTF-8"),
    ('{"text": "a"}\n{"text": "b"}\n'.encode("utf-16"), "line 1 is not UTF-8"),
    (b'{"text": "ok"}\n{"text": "\xff"}\n', "line 2 is not UTF-8"),
    (b'{"text": "ok"}\n' + b"[" * 100_000 + b"\n", "line 2 is nested too deeply"),
    (b'{"text": "ok"}\n[1, 2]\n', "line 2 is not a JSON object"),
    (b'{"text": "ok"}\n{"text": \n', "line 2 is not valid JSON"),
])
def test_wrong_encodings_and_shapes_name_the_line(tmp_path, raw, match, robustness_tally):
    path = tmp_path / "data.jsonl"
    path.write_bytes(raw)
    with pytest.raises(InvalidSpec, match=match):
        read_jsonl(path, "dataset")
    robustness_tally.count("dataset reader: fixed bad files", "INVALID naming the line")


def test_bom_and_crlf_are_accepted(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"text": "a"}\r\n\r\n{"text": "b"}\r\n')
    assert read_jsonl(path) == [{"text": "a"}, {"text": "b"}]


def test_a_huge_line_is_refused_without_reading_it_whole(tmp_path, robustness_tally):
    path = tmp_path / "data.jsonl"
    with open(path, "wb") as fh:
        fh.write(b'{"text": "ok"}\n{"text": "')
        fh.write(b"x" * 5_000_000)
        fh.write(b'"}\n')
    with pytest.raises(InvalidSpec, match="line 2 is longer than 1000000 bytes"):
        read_jsonl(path, "dataset", max_line_bytes=1_000_000)
    assert len(read_jsonl(path, "dataset", max_line_bytes=6_000_000)) == 2
    robustness_tally.count("dataset reader: fixed bad files", "INVALID naming the line")


def test_records_with_wrong_fields_name_the_field():
    with pytest.raises(InvalidSpec) as err:
        require_fields([{"text": "a"}, {"txt": "b"}, {}], ["text"], "members")
    assert err.value.field == "members" and "2 of 3 records lack the field 'text'" in err.value.message


@pytest.mark.parametrize("name, raw, match", [
    ("a.json", '[{"text": "caf\u00e9"}]'.encode("utf-16"), "not UTF-8"),
    ("a.json", b"[" * 100_000, "nested too deeply"),
    ("a.json", b'{"text": 1}', "JSON list of objects"),
    ("a.json", b"[1, 2", "not valid JSON"),
    ("a.jsonl", b"\xff\xfe\x00", "not UTF-8"),
    ("a.jsonl", b"\n\n", "holds no records"),
])
def test_cli_dataset_import_errors_are_invalid_spec(tmp_path, name, raw, match, robustness_tally):
    store = ArtifactStore(StoreSettings(root=f"file://{tmp_path}/store", cache_dir=tmp_path / "cache"))
    path = tmp_path / name
    path.write_bytes(raw)
    with pytest.raises(InvalidSpec, match=match):
        import_dataset_file(store, path, "mia.members")
    robustness_tally.count("dataset import (CLI): bad files", "INVALID")


# ---- bounded memory in the job manager and the call limiter

def test_finished_jobs_are_forgotten_beyond_the_bound_and_calls_beyond_the_queue_refused():
    import threading

    from genleak.core.errors import JobNotFound, ResourceExhausted
    from genleak.core.jobs import CallLimiter, JobManager, JobOutput
    from genleak.core.specs import Spec

    class Req(Spec):
        value: int

    jobs = JobManager(workers=1, max_queued=4, max_finished=3)
    ids = []
    for i in range(6):
        snap = jobs.submit("k", Req(value=i), lambda r: JobOutput(result={"i": 1}))
        ids.append(snap.job_id)
        for _ in jobs.watch(snap.job_id, poll_s=0.05):
            pass
    with pytest.raises(JobNotFound):
        jobs.get(ids[0])  # the oldest finished jobs are dropped ...
    assert all(jobs.get(i).state.terminal for i in ids[-3:])  # ... the newest kept
    jobs.shutdown()

    limiter = CallLimiter(concurrent=1, queued=1)
    inside, release = threading.Event(), threading.Event()

    def hold():
        with limiter.slot("x"):
            inside.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    inside.wait(5)
    waiter = threading.Thread(target=lambda: limiter.slot("x").__enter__())  # queued
    waiter.start()
    while limiter.peak_admitted < 2:
        pass
    with pytest.raises(ResourceExhausted, match="server busy"):
        with limiter.slot("x"):
            pass
    release.set()
    holder.join()
    waiter.join()
    assert limiter.peak_running == 1 and limiter.rejected == 1
