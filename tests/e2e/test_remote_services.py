"""The deployed shape: each service its own `genleak serve` process, S3 store, auth token, `genleak run --remote`."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "e2e-token-7d41c3"
# Distinctive values, so a leak into a log or a report cannot hide among ordinary words.
S3_ACCESS_KEY, S3_SECRET_KEY = "genleak-access-5b1e", "genleak-secret-9f2c7a"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_serving(address: str, timeout: float = 90.0) -> None:
    deadline = time.time() + timeout
    channel = grpc.insecure_channel(address)
    while time.time() < deadline:
        try:
            status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2).status
            if status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.RpcError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{address} never became SERVING")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    s3.start()
    host, port = s3.get_host_and_port()
    tmp = tmp_path_factory.mktemp("deployed")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "services"), "GENLEAK_STORE": "s3://genleak-e2e/artifacts",
           "GENLEAK_S3_ENDPOINT": f"{host}:{port}", "GENLEAK_S3_SECURE": "false", "GENLEAK_S3_ACCESS_KEY": S3_ACCESS_KEY,
           "GENLEAK_S3_SECRET_KEY": S3_SECRET_KEY, "GENLEAK_AUTH_TOKEN": TOKEN, "GENLEAK_CACHE_DIR": str(tmp / "cache")}
    ports = {name: _free_port() for name in ("generator", "finetuner", "attacker", "controller")}
    for name in ("generator", "finetuner", "attacker"):
        env[f"GENLEAK_{name.upper()}_ADDR"] = f"127.0.0.1:{ports[name]}"
    procs = []
    for name, port_ in ports.items():
        log = open(tmp / f"{name}.log", "w")
        procs.append(subprocess.Popen([sys.executable, "-m", "genleak", "serve", name, "--host", "127.0.0.1",
                                       "--port", str(port_)], env=env, stdout=log, stderr=subprocess.STDOUT))
    try:
        for port_ in ports.values():
            _wait_serving(f"127.0.0.1:{port_}")
        yield env, ports, tmp
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        s3.stop()


def test_run_remote_against_separate_service_processes(deployed):
    env, ports, tmp = deployed
    proc = subprocess.run([sys.executable, "-m", "genleak", "run", "examples/tiny.yaml", "--remote", "--controller",
                           f"127.0.0.1:{ports['controller']}", "--no-progress", "--out", str(tmp / "out")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| template | base | original | generated |" in proc.stdout
    assert "s3://genleak-e2e/artifacts/runs/tiny/" in proc.stdout
    # No credential in any log or report: the four services' logs, the CLI's output, the report files.
    texts = [proc.stdout, proc.stderr] + [p.read_text(errors="replace") for p in sorted(tmp.glob("*.log"))]
    texts += [p.read_text(errors="replace") for p in sorted((tmp / "out").iterdir()) if p.suffix in (".md", ".json", ".html")]
    assert len(texts) >= 2 + 4 + 3
    for secret in (TOKEN, S3_SECRET_KEY, S3_ACCESS_KEY):
        assert not [i for i, text in enumerate(texts) if secret in text], secret


def test_remote_call_without_token_is_refused(deployed):
    env, ports, _ = deployed
    env = {k: v for k, v in env.items() if k != "GENLEAK_AUTH_TOKEN"}
    proc = subprocess.run([sys.executable, "-m", "genleak", "run", "examples/tiny.yaml", "--remote", "--controller",
                           f"127.0.0.1:{ports['controller']}", "--no-progress"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "UNAUTHENTICATED" in proc.stderr


def test_sigterm_stops_a_service_gracefully(deployed):
    env, _, tmp = deployed
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "genleak", "serve", "attacker", "--host", "127.0.0.1", "--port",
                             str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _wait_serving(f"127.0.0.1:{port}")
    proc.terminate()
    assert proc.wait(timeout=30) == 0


def test_a_local_model_folder_in_a_remote_spec_is_uploaded(deployed):
    """Services cannot read the spec writer's folders: `--remote` publishes a local target folder first."""
    from genleak.lab.build import make_lab_datasets
    from genleak.lab.config import LabConfig
    from genleak.lab.models import new_target, save_model_folder
    from genleak.lab.tokenizer import train_tokenizer

    env, ports, tmp = deployed
    config = LabConfig.preset("tiny", {"seed": 0})
    splits = make_lab_datasets(config, tmp / "local-lab")
    tokenizer = train_tokenizer([d.text for d in splits.members], config.vocab_size, config.pretrain.max_length)
    folder = tmp / "my-target"
    save_model_folder(new_target(config.target, tokenizer, 0), tokenizer, folder)
    spec = tmp / "local-model.yaml"
    spec.write_text(f"""name: local-model
lab: {{preset: tiny, seed: 0}}
target: {folder}
generator: {{engine: {{name: hf}}, sampling: {{max_new_tokens: 16}}}}
finetune: {{method: lora, method_config: {{r: 4}}, epochs: 1, learning_rate: 1.0e-3, batch_size: 8}}
attack: {{templates: [A], temperatures: [1.0], n_targets: 6, checkpoints: last}}
leakage: null
conditions: [base, original]
""")
    proc = subprocess.run([sys.executable, "-m", "genleak", "run", str(spec), "--remote", "--controller",
                           f"127.0.0.1:{ports['controller']}", "--no-progress", "--out", str(tmp / "local-out")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"uploaded target {folder} -> s3://genleak-e2e/artifacts/models/imported/" in proc.stderr
    report = (tmp / "local-out" / "report.json").read_text()
    assert "s3://genleak-e2e/artifacts/models/imported/" in report and str(folder) not in report
