"""Settings from GENLEAK_* variables (genleak.core.settings): which variables are read, what an
empty one means, secrets from mounted files, and that constructors never read the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from genleak.core.errors import InvalidSpec
from genleak.core.settings import Settings, StoreSettings, TlsSettings

# Deploy files, docs and operators use exactly these names: a rename breaks deployments.
VARIABLES = {
    "GENLEAK_STORE", "GENLEAK_CACHE_DIR", "GENLEAK_S3_ENDPOINT", "GENLEAK_S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID",
    "GENLEAK_S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY", "GENLEAK_S3_SECURE", "GENLEAK_S3_REGION",
    "GENLEAK_STORE_RETRY_SECONDS", "GENLEAK_MAX_ARTIFACT_BYTES",
    "GENLEAK_AUTH_TOKEN", "GENLEAK_AUTH_TOKEN_FILE", "GENLEAK_PII_SALT", "GENLEAK_PII_SALT_FILE",
    "GENLEAK_TLS_CERT", "GENLEAK_TLS_KEY", "GENLEAK_TLS_CLIENT_CA", "GENLEAK_TLS_CA", "GENLEAK_TLS_CLIENT_CERT",
    "GENLEAK_TLS_CLIENT_KEY", "GENLEAK_TLS_SERVER_NAME", "GENLEAK_GRPC_LB_POLICY",
    "GENLEAK_GENERATOR_ADDR", "GENLEAK_FINETUNER_ADDR", "GENLEAK_ATTACKER_ADDR", "GENLEAK_CONTROLLER_ADDR",
    "GENLEAK_LOG_FORMAT", "GENLEAK_FINETUNE_GPUS", "GENLEAK_MAX_QUEUED_JOBS", "GENLEAK_JOB_WORKERS", "GENLEAK_MAX_CONCURRENT_CALLS",
    "GENLEAK_MAX_QUEUED_CALLS", "GENLEAK_MAX_CONCURRENT_RPCS", "GENLEAK_METRICS_PORT",
}


class Recorder(dict):
    """An empty environment that remembers every name looked up."""

    def __init__(self):
        super().__init__()
        self.names: set[str] = set()

    def get(self, key, default=None):
        self.names.add(key)
        return default


def test_exactly_the_documented_variables_are_read():
    recorder = Recorder()
    assert Settings.from_env(recorder) == Settings()
    assert recorder.names == VARIABLES


def test_constructors_take_their_arguments_and_never_the_environment(monkeypatch):
    monkeypatch.setenv("GENLEAK_S3_REGION", "eu-west-3")
    monkeypatch.setenv("GENLEAK_JOB_WORKERS", "3")
    assert StoreSettings().s3_region == "us-east-1" and Settings().job_workers == 1
    from_environ = Settings.from_env()
    assert from_environ.store.s3_region == "eu-west-3" and from_environ.job_workers == 3


def test_every_field_comes_from_its_variable():
    env = {"GENLEAK_STORE": "s3://bucket/prefix", "GENLEAK_CACHE_DIR": "/cache", "GENLEAK_S3_ENDPOINT": "minio:9000",
           "GENLEAK_S3_ACCESS_KEY": "ak", "GENLEAK_S3_SECRET_KEY": "sk", "GENLEAK_S3_SECURE": "false",
           "GENLEAK_S3_REGION": "eu-west-1", "GENLEAK_STORE_RETRY_SECONDS": "2.5", "GENLEAK_MAX_ARTIFACT_BYTES": "9",
           "GENLEAK_GENERATOR_ADDR": "dns:///generator:50051", "GENLEAK_LOG_FORMAT": "json",
           "GENLEAK_MAX_QUEUED_JOBS": "4", "GENLEAK_JOB_WORKERS": "2", "GENLEAK_MAX_CONCURRENT_CALLS": "3",
           "GENLEAK_MAX_QUEUED_CALLS": "0", "GENLEAK_MAX_CONCURRENT_RPCS": "64",
           "GENLEAK_GRPC_LB_POLICY": " Pick_First"}
    settings = Settings.from_env(env)
    assert settings.store == StoreSettings(
        root="s3://bucket/prefix", cache_dir=Path("/cache"), s3_endpoint="minio:9000", s3_access_key="ak",
        s3_secret_key="sk", s3_secure=False, s3_region="eu-west-1", retry_seconds=2.5, max_artifact_bytes=9)
    assert (settings.generator_addr, settings.log_format, settings.grpc_lb_policy) == (
        "dns:///generator:50051", "json", "pick_first")
    assert (settings.max_queued_jobs, settings.job_workers, settings.max_concurrent_calls, settings.max_queued_calls,
            settings.max_concurrent_rpcs) == (4, 2, 3, 0, 64)
    assert settings.tls == TlsSettings()


@pytest.mark.parametrize("text, secure", [("true", True), ("TRUE", True), ("1", True), ("yes", True),
                                          ("false", False), ("0", False), ("on", False), ("", False)])
def test_s3_secure_is_on_only_for_1_true_or_yes(text, secure):
    assert Settings.from_env({"GENLEAK_S3_SECURE": text}).store.s3_secure is secure


def test_what_an_empty_variable_means():
    empty = Settings.from_env({name: "" for name in ("GENLEAK_STORE", "GENLEAK_CACHE_DIR", "GENLEAK_S3_REGION",
                                                     "GENLEAK_LOG_FORMAT", "GENLEAK_S3_ACCESS_KEY")}
                              | {"AWS_ACCESS_KEY_ID": "aws-key"})
    defaults = StoreSettings()
    assert (empty.store.root, empty.store.cache_dir) == (defaults.root, defaults.cache_dir)  # unset: the default
    assert empty.store.s3_region == "" and empty.log_format == ""  # a value (no region: the client asks S3)
    assert empty.store.s3_access_key == "aws-key"  # an empty GENLEAK key falls back to the AWS variable
    with pytest.raises(InvalidSpec, match="GENLEAK_MAX_QUEUED_JOBS"):
        Settings.from_env({"GENLEAK_MAX_QUEUED_JOBS": ""})


def test_the_aws_variables_stand_in_for_the_genleak_s3_keys():
    env = {"AWS_ACCESS_KEY_ID": "aws-ak", "AWS_SECRET_ACCESS_KEY": "aws-sk"}
    store = Settings.from_env(env).store
    assert (store.s3_access_key, store.s3_secret_key) == ("aws-ak", "aws-sk")
    store = Settings.from_env(env | {"GENLEAK_S3_ACCESS_KEY": "ak", "GENLEAK_S3_SECRET_KEY": "sk"}).store
    assert (store.s3_access_key, store.s3_secret_key) == ("ak", "sk")


def test_secrets_come_from_mounted_files_first(tmp_path):
    token, salt = tmp_path / "token", tmp_path / "salt"
    token.write_text("from-file\n")
    salt.write_text("  salty  ")
    settings = Settings.from_env({"GENLEAK_AUTH_TOKEN": "inline", "GENLEAK_AUTH_TOKEN_FILE": str(token),
                                  "GENLEAK_PII_SALT_FILE": str(salt)})
    assert (settings.auth_token, settings.pii_salt) == ("from-file", "salty")
    assert Settings.from_env({"GENLEAK_AUTH_TOKEN": "inline", "GENLEAK_AUTH_TOKEN_FILE": ""}).auth_token == "inline"
    assert "inline" not in repr(Settings.from_env({"GENLEAK_AUTH_TOKEN": "inline"}))


def test_several_bad_values_are_one_invalid_spec_naming_each_variable():
    with pytest.raises(InvalidSpec) as info:
        Settings.from_env({"GENLEAK_STORE_RETRY_SECONDS": "soon", "GENLEAK_MAX_ARTIFACT_BYTES": "-5"})
    assert info.value.field == "settings"
    assert info.value.message == ("settings: GENLEAK_STORE_RETRY_SECONDS: Input should be a valid number, unable to "
                                  "parse string as a number; GENLEAK_MAX_ARTIFACT_BYTES: Input should be greater "
                                  "than or equal to 0")
