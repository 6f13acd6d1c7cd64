"""`genleak doctor` on this machine: a working stack exits 0, a broken one exits 1 naming what broke.

The first run is the real thing (about a minute on 2 cores): vLLM against transformers in float32
and bfloat16 on the probe model it builds, Presidio's offline model, the file store, disk. Its
bfloat16 line may be ok or a warning depending on the CPU; float32 must agree everywhere.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENLEAK = [sys.executable, "-m", "genleak"]

pytestmark = [pytest.mark.slow]


def _doctor(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GENLEAK_")}
    base.update({"GENLEAK_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT / "services"), **env})
    return subprocess.run([*GENLEAK, "doctor", *args], capture_output=True, text=True, env=base, timeout=600)


def _by_name(report: dict) -> dict[str, dict]:
    return {c["name"]: c for c in report["checks"]}


def test_doctor_on_this_machine_reports_every_part_and_passes(tmp_path):
    pytest.importorskip("vllm", reason="the parity checks need vLLM")
    proc = _doctor(["--json", "--store", str(tmp_path / "store")], {}, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    checks = _by_name(report)
    assert report["ok"] and set(c["status"] for c in report["checks"]) <= {"ok", "warn"}
    platform = checks["platform"]["data"]
    assert platform["cpu"] and "torch" in platform["libraries"] and "cpu_flags_sha256" in platform
    assert checks["torch"]["data"]["cuda"] is False and checks["vllm"]["status"] == "ok"
    fp32, bf16 = checks["parity float32 (probe model)"], checks["parity bfloat16 (probe model)"]
    assert fp32["status"] == "ok" and fp32["data"]["mean_abs_logprob_diff"] < 1e-3
    assert bf16["status"] in ("ok", "warn") and "mean_abs_logprob_diff" in bf16["data"]
    assert checks["presidio"]["status"] == "ok" and "EMAIL_ADDRESS" in checks["presidio"]["data"]["found"]
    assert checks["store"]["status"] == "ok" and checks["store"]["data"]["root"].endswith("/store")
    assert checks["auth"]["data"] == {"token": False} and checks["tls"]["data"] == {"enabled": False}
    assert checks["disk (cache)"]["data"]["free_gib"] > 0 and "disk (store)" in checks
    print(f"\nRESULT doctor: {fp32['detail']}\nRESULT doctor: {bf16['status']} {bf16['detail']}")


def test_doctor_fails_on_an_unreachable_store_and_unreadable_tls_files(tmp_path):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {"GENLEAK_STORE": "s3://genleak/doctor", "GENLEAK_S3_ENDPOINT": f"127.0.0.1:{port}",
           "GENLEAK_S3_SECURE": "false", "GENLEAK_S3_ACCESS_KEY": "k", "GENLEAK_S3_SECRET_KEY": "s",
           "GENLEAK_STORE_RETRY_SECONDS": "1", "GENLEAK_TLS_CA": str(tmp_path / "missing-ca.crt"),
           "GENLEAK_AUTH_TOKEN": "doctor-secret-token"}
    proc = _doctor(["--json", "--skip", "parity", "--skip", "presidio"], env, tmp_path)
    assert proc.returncode == 1, proc.stderr[-3000:]
    checks = _by_name(json.loads(proc.stdout))
    assert checks["store"]["status"] == "fail" and checks["store"]["data"]["code"] == "UNAVAILABLE"
    assert checks["tls"]["status"] == "fail" and "GENLEAK_TLS_CA" in checks["tls"]["detail"]
    assert checks["parity"]["status"] == "skip" and checks["presidio"]["status"] == "skip"
    assert checks["auth"]["data"] == {"token": True}
    plain = _doctor(["--skip", "parity", "--skip", "presidio"], env, tmp_path)
    assert plain.returncode == 1 and "FAIL  store" in plain.stdout and "broken: store, tls" in plain.stdout
    assert "doctor-secret-token" not in proc.stdout + proc.stderr + plain.stdout + plain.stderr
    assert "Traceback" not in proc.stderr + plain.stderr


def test_tls_check_reads_real_certificates(tmp_path):
    from genleak.core.settings import Settings, TlsSettings
    from genleak.doctor import tls_check

    spec = importlib.util.spec_from_file_location("dev_certs", ROOT / "scripts" / "dev_certs.py")
    certs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(certs)
    assert certs.main([str(tmp_path), "--names", "localhost"]) == 0
    good = Settings(tls=TlsSettings(cert=str(tmp_path / "server.crt"), key=str(tmp_path / "server.key"),
                                    ca=str(tmp_path / "ca.crt")))
    check = tls_check(good)
    assert check.status == "ok" and "GENLEAK_TLS_CERT valid for" in check.detail
    (tmp_path / "bad.crt").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    bad = tls_check(Settings(tls=TlsSettings(ca=str(tmp_path / "bad.crt"))))
    assert bad.status == "fail" and "not a certificate" in bad.detail
