"""TLS, mTLS and the bearer token over real gRPC servers on loopback (certificates made at test time)."""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from genleak.core.errors import InvalidSpec
from genleak.core.settings import Settings, StoreSettings, TlsSettings
from genleak.rpc.channels import channel_options, open_channel
from genleak.rpc.health_check import check, health_command
from genleak.rpc.server import ServiceBinding, start_server

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "tls-test-token"
ECHO = "/genleak.test.Echo/Say"


# ---- a throwaway PKI from scripts/dev_certs.py: CA, server cert, client cert, and an unrelated CA ----

def _dev_certs():
    spec = importlib.util.spec_from_file_location("dev_certs", ROOT / "scripts" / "dev_certs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, str]:
    certs, d = _dev_certs(), tmp_path_factory.mktemp("pki")
    ca, ca_key = certs.make_ca("genleak-test-ca")
    other, other_key = certs.make_ca("someone-else-ca")
    paths = {"ca": certs.write_pem(d, "ca", ca)["cert"], "other_ca": certs.write_pem(d, "other-ca", other)["cert"]}
    leaves = {"server": certs.issue(ca, ca_key, "server", ("localhost",), ("127.0.0.1",), client=False),
              "named": certs.issue(ca, ca_key, "generator", ("generator",), client=False),
              "client": certs.issue(ca, ca_key, "client", server=False),
              "rogue": certs.issue(other, other_key, "rogue", server=False)}
    for name, (cert, key) in leaves.items():
        written = certs.write_pem(d, name, cert, key)
        paths[f"{name}_cert"], paths[f"{name}_key"] = written["cert"], written["key"]
    return paths


def test_dev_certs_script_writes_a_pki_that_serves_mtls(tmp_path, serve):
    assert _dev_certs().main([str(tmp_path), "--names", "generator,localhost", "--key-mode", "640"]) == 0
    expected = {f"{n}.{e}" for n in ("ca", "server", "client") for e in ("crt", "key")}
    assert {p.name for p in tmp_path.iterdir()} == expected
    assert (tmp_path / "server.key").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "ca.key").stat().st_mode & 0o777 == 0o600
    f = lambda name: str(tmp_path / name)  # noqa: E731
    server = serve(TlsSettings(cert=f("server.crt"), key=f("server.key"), client_ca=f("ca.crt")))
    # both certificates carry clientAuth: the services' own cert doubles as the controller's client cert
    for client_cert, client_key in (("client.crt", "client.key"), ("server.crt", "server.key")):
        tls = TlsSettings(ca=f("ca.crt"), client_cert=f(client_cert), client_key=f(client_key), server_name="generator")
        assert _say(open_channel(server.address, TOKEN, tls=tls)) == b"echo:hi"


# ---- servers: a tiny echo service through the real bootstrap (interceptors, health, TLS) ----

def _echo_binding(name: str) -> ServiceBinding:
    def add(_servicer, server: grpc.Server) -> None:
        say = grpc.unary_unary_rpc_method_handler(lambda request, context: name.encode() + b":" + request)
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("genleak.test.Echo", {"Say": say}),))

    return ServiceBinding(None, add, "genleak.test.Echo")


@pytest.fixture
def serve():
    servers = []

    def start(tls: TlsSettings | None, token: str = TOKEN, name: str = "echo", host: str = "127.0.0.1", port: int = 0):
        server = start_server([_echo_binding(name)], host=host, port=port, auth_token=token, tls=tls)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop(grace=0)


def _say(channel: grpc.Channel) -> bytes:
    with channel:
        return channel.unary_unary(ECHO)(b"hi", timeout=5)


def _code(channel: grpc.Channel) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        _say(channel)
    return info.value.code()


def _server_tls(pki, mtls: bool = False) -> TlsSettings:
    return TlsSettings(cert=pki["server_cert"], key=pki["server_key"], client_ca=pki["ca"] if mtls else "")


# ---- TLS ----

def test_tls_server_answers_a_client_that_trusts_its_ca(pki, serve):
    server = serve(_server_tls(pki))
    assert _say(open_channel(server.address, TOKEN, tls=TlsSettings(ca=pki["ca"]))) == b"echo:hi"
    assert _say(open_channel(f"localhost:{server.port}", TOKEN, tls=TlsSettings(ca=pki["ca"]))) == b"echo:hi"


def test_tls_server_refuses_plaintext_and_untrusted_clients(pki, serve):
    server = serve(_server_tls(pki))
    assert _code(open_channel(server.address, TOKEN)) == grpc.StatusCode.UNAVAILABLE
    untrusting = TlsSettings(ca=pki["other_ca"])
    assert _code(open_channel(server.address, TOKEN, tls=untrusting)) == grpc.StatusCode.UNAVAILABLE


def test_server_name_override_verifies_a_cert_issued_for_a_service_name(pki, serve):
    server = serve(TlsSettings(cert=pki["named_cert"], key=pki["named_key"]))  # SAN: generator only
    assert _code(open_channel(server.address, TOKEN, tls=TlsSettings(ca=pki["ca"]))) == grpc.StatusCode.UNAVAILABLE
    named = TlsSettings(ca=pki["ca"], server_name="generator")
    assert _say(open_channel(server.address, TOKEN, tls=named)) == b"echo:hi"


# ---- mTLS ----

def test_mtls_rejects_a_client_without_a_certificate(pki, serve):
    server = serve(_server_tls(pki, mtls=True))
    assert _code(open_channel(server.address, TOKEN, tls=TlsSettings(ca=pki["ca"]))) == grpc.StatusCode.UNAVAILABLE


def test_mtls_rejects_a_certificate_from_another_ca(pki, serve):
    server = serve(_server_tls(pki, mtls=True))
    rogue = TlsSettings(ca=pki["ca"], client_cert=pki["rogue_cert"], client_key=pki["rogue_key"])
    assert _code(open_channel(server.address, TOKEN, tls=rogue)) == grpc.StatusCode.UNAVAILABLE


def test_mtls_accepts_a_client_certificate_from_its_ca(pki, serve):
    server = serve(_server_tls(pki, mtls=True))
    client = TlsSettings(ca=pki["ca"], client_cert=pki["client_cert"], client_key=pki["client_key"])
    assert _say(open_channel(server.address, TOKEN, tls=client)) == b"echo:hi"


# ---- the bearer token, over TLS ----

def test_token_is_required_over_tls(pki, serve):
    server = serve(_server_tls(pki))
    tls = TlsSettings(ca=pki["ca"])
    assert _code(open_channel(server.address, tls=tls)) == grpc.StatusCode.UNAUTHENTICATED
    assert _code(open_channel(server.address, "wrong", tls=tls)) == grpc.StatusCode.UNAUTHENTICATED
    assert _say(open_channel(server.address, TOKEN, tls=tls)) == b"echo:hi"


def test_health_needs_no_token_but_does_need_tls(pki, serve):
    server = serve(_server_tls(pki, mtls=True))
    client = TlsSettings(ca=pki["ca"], client_cert=pki["client_cert"], client_key=pki["client_key"])
    assert check(server.address, Settings(tls=client)) == "SERVING"
    assert check(server.address, Settings(tls=client), service="genleak.test.Echo") == "SERVING"
    with pytest.raises(grpc.RpcError):
        check(server.address, Settings(tls=TlsSettings(ca=pki["ca"])), timeout=2)


def test_health_command_exit_codes(pki, serve, capsys):
    server = serve(_server_tls(pki))
    args = argparse.Namespace(address=server.address, service="", timeout=2.0, wait=0.0, server_name="")
    assert health_command(args, Settings(tls=TlsSettings(ca=pki["ca"]))) == 0
    assert "SERVING" in capsys.readouterr().out
    assert health_command(args, Settings()) == 1  # plaintext against a TLS-only port
    unknown = argparse.Namespace(**{**vars(args), "service": "genleak.v1.Nope"})
    assert health_command(unknown, Settings(tls=TlsSettings(ca=pki["ca"]))) == 1
    assert "NOT_FOUND" in capsys.readouterr().err


def test_health_module_runs_as_the_container_healthcheck(pki, serve):
    """What the Dockerfiles and compose run: `python3 -m genleak.rpc.health_check 127.0.0.1:PORT`, TLS from env."""
    server = serve(_server_tls(pki, mtls=True))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "services"), "GENLEAK_TLS_CA": pki["ca"],
           "GENLEAK_TLS_CLIENT_CERT": pki["client_cert"], "GENLEAK_TLS_CLIENT_KEY": pki["client_key"]}
    command = [sys.executable, "-m", "genleak.rpc.health_check", server.address, "--timeout", "5"]
    ok = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "SERVING" in ok.stdout, ok.stderr
    env.pop("GENLEAK_TLS_CLIENT_CERT")
    bad = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "GENLEAK_TLS_CLIENT_CERT" in bad.stderr  # half a key pair: a settings error
    env.pop("GENLEAK_TLS_CLIENT_KEY")
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "UNAVAILABLE" in refused.stderr


def test_a_real_service_serves_tls_and_token_from_settings(pki, tmp_path):
    from genleak.app import serve as serve_service
    from genleak.v1 import common_pb2, controller_pb2_grpc

    store = StoreSettings(root=f"file://{tmp_path}/store", cache_dir=tmp_path / "cache")
    settings = Settings(store=store, auth_token=TOKEN, tls=_server_tls(pki, mtls=True), generator_addr="127.0.0.1:1",
                        finetuner_addr="127.0.0.1:2", attacker_addr="127.0.0.1:3")
    server = serve_service("controller", settings, "127.0.0.1", 0)
    try:
        client = TlsSettings(ca=pki["ca"], client_cert=pki["client_cert"], client_key=pki["client_key"])
        for token, code in (("", grpc.StatusCode.UNAUTHENTICATED), (TOKEN, grpc.StatusCode.NOT_FOUND)):
            with open_channel(server.address, token, tls=client) as channel, pytest.raises(grpc.RpcError) as info:
                controller_pb2_grpc.ControllerServiceStub(channel).GetJob(common_pb2.GetJobRequest(job_id="nope"),
                                                                          timeout=10)
            assert info.value.code() == code
    finally:
        server.stop(grace=0)


# ---- settings and channel options ----

def test_tls_settings_from_env():
    env = {"GENLEAK_TLS_CERT": "/s.crt", "GENLEAK_TLS_KEY": "/s.key", "GENLEAK_TLS_CLIENT_CA": "/ca.crt",
           "GENLEAK_TLS_CA": "/ca.crt", "GENLEAK_TLS_CLIENT_CERT": "/c.crt", "GENLEAK_TLS_CLIENT_KEY": "/c.key",
           "GENLEAK_TLS_SERVER_NAME": "generator", "GENLEAK_GRPC_LB_POLICY": "Round_Robin"}
    settings = Settings.from_env(env)
    assert settings.tls == TlsSettings(cert="/s.crt", key="/s.key", client_ca="/ca.crt", ca="/ca.crt",
                                       client_cert="/c.crt", client_key="/c.key", server_name="generator")
    assert settings.tls.server_enabled and settings.tls.client_enabled and settings.grpc_lb_policy == "round_robin"
    assert not Settings.from_env({}).tls.server_enabled and not Settings.from_env({}).tls.client_enabled


@pytest.mark.parametrize("env, message", [
    ({"GENLEAK_TLS_CERT": "/s.crt"}, "GENLEAK_TLS_CERT and GENLEAK_TLS_KEY must be set together"),
    ({"GENLEAK_TLS_CLIENT_KEY": "/c.key"}, "GENLEAK_TLS_CLIENT_CERT and GENLEAK_TLS_CLIENT_KEY"),
    ({"GENLEAK_TLS_CLIENT_CA": "/ca.crt"}, "needs GENLEAK_TLS_CERT"),
    ({"GENLEAK_GRPC_LB_POLICY": "ring_hash"}, "GENLEAK_GRPC_LB_POLICY must be one of"),
])
def test_invalid_tls_settings_are_one_readable_error(env, message):
    with pytest.raises(InvalidSpec, match=message):
        Settings.from_env(env)


def test_missing_certificate_file_fails_before_binding(tmp_path, serve):
    with pytest.raises(InvalidSpec, match="GENLEAK_TLS_(CERT|KEY): cannot read"):
        serve(TlsSettings(cert=str(tmp_path / "missing.crt"), key=str(tmp_path / "missing.key")))


def test_grpc_lb_policy_options():
    assert ("grpc.lb_policy_name", "round_robin") in channel_options("dns:///generator:50051", "round_robin")
    assert ("grpc.lb_policy_name", "pick_first") in channel_options("dns:///generator:50051", "pick_first")
    assert not [o for o in channel_options("generator:50051") if o[0] == "grpc.lb_policy_name"]
    with pytest.raises(InvalidSpec, match="dns:///"):
        open_channel("generator:50051", lb_policy="job_affinity")


def test_dns_target_replicas_verify_the_service_name_over_tls(pki, serve, monkeypatch):
    from genleak.rpc import balancing

    server = serve(TlsSettings(cert=pki["named_cert"], key=pki["named_key"]))  # SAN: generator only
    monkeypatch.setattr(balancing, "resolve_all", lambda host, port: ["127.0.0.1"] if host == "generator" else [])
    channel = open_channel(f"dns:///generator:{server.port}", TOKEN, tls=TlsSettings(ca=pki["ca"]))
    assert isinstance(channel, balancing.JobAffinityChannel)
    assert _say(channel) == b"echo:hi"


def test_round_robin_spreads_calls_over_every_address(serve):
    a = serve(None, token="", name="a", host="127.0.0.1")
    try:
        b = serve(None, token="", name="b", host="127.0.0.2", port=a.port)
    except OSError:
        pytest.skip("127.0.0.2 is not bindable here")
    target = f"ipv4:127.0.0.1:{a.port},127.0.0.2:{b.port}"
    with open_channel(target, lb_policy="round_robin") as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        answers = {channel.unary_unary(ECHO)(b"x", timeout=5, wait_for_ready=True) for _ in range(8)}
    assert answers == {b"a:x", b"b:x"}
