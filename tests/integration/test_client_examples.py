"""The Python clients in examples/clients/ run as a user runs them (a process of their own, the address and
token from the environment or a flag) against the four services on loopback with a tiny lab (issue 16, item
2); and README's grpcurl calls name real RPCs with bodies their request messages accept."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pool, json_format, message_factory

from genleak.app import EmbeddedStack
from genleak.core.settings import Settings, StoreSettings
from genleak.rpc.channels import open_channel, wait_for_job
from genleak.v1 import attacker_pb2, controller_pb2, finetuner_pb2, finetuner_pb2_grpc, generator_pb2  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "clients"
TOKEN = "client-example-token"
SPEC = """name: client-example
lab: {preset: tiny, seed: 0}
conditions: [base]
attack: {templates: [A], temperatures: [1.0], n_targets: 4, perplexity_dataset: null}
leakage: null
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("clients")
    settings = Settings(store=StoreSettings(root=f"file://{root}/store", cache_dir=root / "cache"), auth_token=TOKEN)
    with EmbeddedStack(settings) as running:
        env = {**os.environ, "PYTHONPATH": str(ROOT / "services"), "GENLEAK_AUTH_TOKEN": TOKEN,
               **{f"GENLEAK_{name.upper()}_ADDR": server.address for name, server in running.servers.items()}}
        yield {"stack": running, "env": env, "root": root}


def _example(stack, name: str, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run([sys.executable, str(EXAMPLES / f"{name}_client.py"), *args], cwd=stack["root"],
                          env=env or stack["env"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _lab(stack) -> dict[str, str]:
    """The lab's artifacts by name (the finetuner example built it: found in the store now)."""
    with open_channel(stack["stack"].servers["finetuner"].address, TOKEN) as channel:
        stub = finetuner_pb2_grpc.FinetunerServiceStub(channel)
        request = finetuner_pb2.StartLabBuildRequest()
        request.params.update({"preset": "tiny"})
        return {name: ref.uri for name, ref in wait_for_job(stub, stub.StartLabBuild(request)).artifacts.items()}


def test_every_example_is_short_and_documented():
    for path in sorted(EXAMPLES.glob("*_client.py")):
        text = path.read_text()
        assert len(text.splitlines()) <= 45 and text.startswith('"""') and "--address" in text, path.name
    assert {p.stem for p in EXAMPLES.glob("*_client.py")} == {"generator_client", "finetuner_client",
                                                              "attacker_client", "controller_client"}


def test_finetuner_example_builds_the_lab_fine_tunes_and_lists_jobs(stack):
    out = _example(stack, "finetuner", "--preset", "tiny", "--epochs", "1")
    assert re.search(r"^job finetune-[0-9a-f]{20} started$", out, re.M)
    assert re.search(r"^epoch-1/merged: file://\S+$", out, re.M) and "epoch-1/adapter: " in out
    listed = [line.split() for line in out.splitlines() if line.startswith(("finetune-", "lab-"))]
    assert [row[1:] for row in listed] == [["finetune", "JOB_STATE_SUCCEEDED"], ["lab", "JOB_STATE_SUCCEEDED"]]


def test_generator_example_generates_a_dataset(stack):
    lab = _lab(stack)
    out = _example(stack, "generator", lab["generator"], lab["prompts"])
    assert re.search(r"^job generation-[0-9a-f]{20} started$", out, re.M)
    assert re.search(r"^dataset: file://\S+/dataset \(\d+ records, cached: False\)$", out, re.M), out


def test_attacker_example_scores_texts_with_the_address_flag(stack):
    lab = _lab(stack)
    env = {k: v for k, v in stack["env"].items() if k != "GENLEAK_ATTACKER_ADDR"}
    out = _example(stack, "attacker", lab["target"], "From: Jane Doe", "Hello there, how are you?",
                   "--address", stack["stack"].servers["attacker"].address, env=env)
    rows = out.strip().splitlines()
    assert len(rows) == 2 and all(re.search(r" \d+ tokens  loss -?\d+\.\d{3}  min_k .* zlib ", r) for r in rows), out


def test_controller_example_runs_a_spec_and_reads_its_report(stack, tmp_path):
    spec = tmp_path / "client-example.yaml"
    spec.write_text(SPEC)
    out = _example(stack, "controller", str(spec))
    assert re.search(r"^job experiment-[0-9a-f]{20} started$", out, re.M)
    [last] = [line for line in out.splitlines() if line.startswith("run client-example (")]
    assert "/runs/client-example/" in last and last.split("report ")[1].split(",")[0].endswith("/report")
    assert "conditions" in last.split("keys: ")[1].split(", ") and "| template | base |" in out


# ---- README: one grpcurl call per service, each naming a real RPC with a body its request accepts


def _readme_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("### Calling a service directly")
    end = re.compile(r"\n#{2,3} ").search(text, start)
    return text[start:end.start() if end else len(text)]


def _grpcurl_calls(section: str) -> list[tuple[str, str | None]]:
    """(service/method, the -d body or None) of every grpcurl command in the section's shell blocks, read
    with shell quoting and comments (shlex); a call's method is its last argument."""
    calls, body, in_call = [], None, False
    for block in re.findall(r"```(?:bash|sh)\n(.*?)```", section, re.S):
        tokens = [t for t in shlex.split(block, comments=True) if t.strip()]
        for token, after in zip(tokens, tokens[1:] + [""]):
            if token == "grpcurl":
                in_call, body = True, None
            elif in_call and token == "-d":
                body = None if after == "@" else after  # @: the body comes from stdin
            elif in_call and re.fullmatch(r"genleak\.v1\.\w+/\w+", token):
                calls.append((token, body))
                in_call = False
    return calls


def test_readme_shows_a_grpcurl_call_per_service_and_points_to_the_examples():
    section = _readme_section()
    calls = _grpcurl_calls(section)
    assert {method.split("/")[0] for method, _ in calls} == {
        f"genleak.v1.{s}Service" for s in ("Generator", "Finetuner", "Attacker", "Controller")}
    pool = descriptor_pool.Default()
    for method, body in calls:
        service, name = method.split("/")
        rpc = pool.FindServiceByName(service).FindMethodByName(name)  # KeyError: no such RPC
        if body is not None:
            json_format.Parse(body, message_factory.GetMessageClass(rpc.input_type)())  # ParseError: bad body
    assert sum(body is not None for _, body in calls) >= 4
    for example in EXAMPLES.glob("*_client.py"):
        assert f"examples/clients/{example.name}" in section
    assert 'grpcurl -plaintext -H "authorization: Bearer $GENLEAK_AUTH_TOKEN"' in section
