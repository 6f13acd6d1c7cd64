"""Process settings, read once from GENLEAK_* environment variables at the entry point.

Nothing below the entry points calls os.getenv: settings objects are passed down. The models are
pydantic-settings models whose constructors take their arguments and the defaults below only; the
environment is read by `from_env` (os.environ, or a mapping in tests), through the source at the end
of this module. Each default is stated once, on its field.

A field's variable is the model's env_prefix + FIELD_NAME (GENLEAK_TLS_CERT for TlsSettings.cert);
fields whose variable is named otherwise, or that read several, an empty value differently or a
mounted secret file, say so with a `Variable` next to their type.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Mapping, Self

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from genleak.core.errors import InvalidSpec


@dataclass(frozen=True)
class Variable:
    """How a field is read from the environment when not simply as <env_prefix><FIELD_NAME>.

    names: the variables, in order, the first one set wins (empty: the field is not read at all).
    empty_is_unset: a variable set to "" defers to the next name or the default instead of being
    the value (elsewhere "" is a value: GENLEAK_S3_REGION="" lets the S3 client find the region).
    secret_file: <first name>_FILE names a file (a mounted Kubernetes secret) whose stripped text
    is the value; it wins over the variable itself.
    """

    names: tuple[str, ...] | None = None
    empty_is_unset: bool = False
    secret_file: bool = False


NOT_FROM_ENVIRONMENT = Variable(names=())


class EnvironmentSettings(BaseSettings):
    """Base of the settings models: construction from arguments, or `from_env` from variables."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid", env_prefix="GENLEAK_")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # A constructor never reads the environment, so code below the entry points and tests see
        # exactly what they were given; from_env is the one reader.
        return (init_settings,)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        """The settings the variables in `env` (default os.environ) describe; nested settings models
        read their own variables. A bad value is one InvalidSpec naming its variable."""
        env = os.environ if env is None else env
        nested = {name: field.annotation.from_env(env) for name, field in cls.model_fields.items()
                  if _is_settings_model(field.annotation)}
        try:
            return cls(**_VariablesSource(cls, env)(), **nested)
        except ValidationError as exc:  # one readable line at the entry point, not a pydantic dump
            raise InvalidSpec("; ".join(cls._setting_error(e) for e in exc.errors()), field="settings") from None

    @classmethod
    def variable_names(cls, field_name: str) -> tuple[str, ...]:
        """The variables `from_env` reads for a field, in order."""
        variable = _variable_of(cls.model_fields[field_name])
        if variable.names is not None:
            return variable.names
        return (cls.model_config["env_prefix"] + field_name.upper(),)

    @classmethod
    def _setting_error(cls, error: Mapping[str, Any]) -> str:
        message = error["msg"].removeprefix("Value error, ")
        if not error["loc"]:  # a model validator: its message names the variables
            return message
        field_name = str(error["loc"][0])
        names = cls.variable_names(field_name) or (cls.model_config["env_prefix"] + field_name.upper(),)
        return f"{names[0]}: {message}"


class StoreSettings(EnvironmentSettings):
    """Where artifacts live and how to reach S3. Credentials come from env or mounted secrets."""

    root: Annotated[str, Variable(names=("GENLEAK_STORE",), empty_is_unset=True)] = Field(
        "file://" + str(Path.home() / ".genleak" / "store"),
        description="Store root URI (file:///abs or s3://bucket/prefix)")
    cache_dir: Annotated[Path, Variable(empty_is_unset=True)] = Field(
        Path.home() / ".genleak" / "cache", description="Local cache for fetched artifacts")
    s3_endpoint: str = Field("", description="host:port of the S3 endpoint (MinIO); empty = AWS default")
    s3_access_key: Annotated[str, Variable(names=("GENLEAK_S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID"),
                                           empty_is_unset=True)] = Field("", repr=False)
    s3_secret_key: Annotated[str, Variable(names=("GENLEAK_S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY"),
                                           empty_is_unset=True)] = Field("", repr=False)
    s3_secure: bool = Field(True, description="Use https for S3")
    s3_region: str = Field("us-east-1")
    s3_part_size: Annotated[int, NOT_FROM_ENVIRONMENT] = Field(
        16 * 1024 * 1024, description="Multipart part size in bytes (raised automatically for objects that "
                                      "would need more than 10,000 parts)")
    retry_seconds: Annotated[float, Variable(names=("GENLEAK_STORE_RETRY_SECONDS",))] = Field(
        60.0, ge=0, description="Time budget per store operation for retrying transient S3 failures (connection "
                                "refused/reset, timeouts, 5xx, SlowDown) with exponential backoff; then UNAVAILABLE")
    max_artifact_bytes: int = Field(0, ge=0, description="Largest artifact (sum of its files) publish accepts; "
                                                         "0 = no limit. Larger ones are RESOURCE_EXHAUSTED")

    @field_validator("s3_secure", mode="before")
    @classmethod
    def _secure_from_text(cls, value: Any) -> Any:
        # As GENLEAK_S3_SECURE has always read: https only for 1, true or yes (any case).
        return value.lower() in ("1", "true", "yes") if isinstance(value, str) else value


class TlsSettings(EnvironmentSettings):
    """TLS for gRPC: PEM file paths. Server side: cert + key (+ client_ca = mTLS, client certs required).
    Client side: on when ca or client_cert is set; ca verifies the server, client_cert/key prove the client."""

    model_config = SettingsConfigDict(env_prefix="GENLEAK_TLS_")

    cert: str = Field("", description="Server certificate chain (PEM path); with key, the server speaks TLS only")
    key: str = Field("", description="Server private key (PEM path)")
    client_ca: str = Field("", description="Server: CA bundle that client certificates must chain to (mTLS)")
    ca: str = Field("", description="Client: CA bundle that verifies servers (e.g. /etc/ssl/certs/ca-certificates.crt)")
    client_cert: str = Field("", description="Client: certificate chain presented to mTLS servers (PEM path)")
    client_key: str = Field("", description="Client: private key of client_cert (PEM path)")
    server_name: str = Field("", description="Client: name checked against the server certificate instead of the "
                                             "target host (e.g. when dialing an IP)")

    @model_validator(mode="after")
    def _pairs(self) -> "TlsSettings":
        for a, b in (("cert", "key"), ("client_cert", "client_key")):
            if bool(getattr(self, a)) != bool(getattr(self, b)):
                raise ValueError(f"GENLEAK_TLS_{a.upper()} and GENLEAK_TLS_{b.upper()} must be set together")
        if self.client_ca and not self.cert:
            raise ValueError("GENLEAK_TLS_CLIENT_CA (mTLS) needs GENLEAK_TLS_CERT and GENLEAK_TLS_KEY")
        return self

    @property
    def server_enabled(self) -> bool:
        return bool(self.cert)

    @property
    def client_enabled(self) -> bool:
        return bool(self.ca or self.client_cert)


LB_POLICIES = ("", "pick_first", "round_robin", "job_affinity")


class Settings(EnvironmentSettings):
    """Everything a process is configured with: the store, auth, TLS, peers and service limits."""

    store: StoreSettings = Field(default_factory=StoreSettings)
    auth_token: Annotated[str, Variable(secret_file=True)] = Field(
        "", repr=False, description="Bearer token required on every gRPC call when set")
    tls: TlsSettings = Field(default_factory=TlsSettings)
    grpc_lb_policy: str = Field("", description="Client balancing: pick_first | round_robin (per call) | "
                                                "job_affinity; empty = job_affinity for dns:/// targets, "
                                                "pick_first otherwise")
    generator_addr: str = ""
    finetuner_addr: str = ""
    attacker_addr: str = ""
    controller_addr: str = ""
    log_format: str = "auto"
    max_queued_jobs: int = Field(16, ge=1, description="Jobs accepted but not finished (queued + running); "
                                                        "one more is RESOURCE_EXHAUSTED")
    job_workers: int = Field(1, ge=1, description="Jobs run at once per service")
    max_concurrent_calls: int = Field(2, ge=1, description="Synchronous model calls (ScoreTexts, DetectPII) "
                                                           "run at once per service")
    max_queued_calls: int = Field(16, ge=0, description="Synchronous model calls waiting for a slot; one more "
                                                        "is RESOURCE_EXHAUSTED")
    max_concurrent_rpcs: int = Field(512, ge=1, description="RPCs in flight per server (gRPC answers "
                                                           "RESOURCE_EXHAUSTED beyond): bounds request memory")
    finetune_gpus: int | None = Field(None, ge=1, le=64, description="Data-parallel processes per fine-tune, one "
                                      "per GPU (torchrun on one node); unset = every visible GPU, 1 where there "
                                      "is none (on CPUs, N > 1 runs N gloo processes)")
    metrics_port: Annotated[int | None, Variable(empty_is_unset=True)] = Field(
        None, ge=1, le=65535, description="TCP port of the Prometheus /metrics endpoint (plain HTTP, on the gRPC "
                                          "server's host; one per process: the embedded stack's four services "
                                          "share it); unset = no endpoint")
    pii_salt: Annotated[str, Variable(secret_file=True)] = Field(
        "", repr=False, description="Salt of the hashed PII value ids in attacker outputs; set a secret one: "
                                    "phones and names are few enough to hash them all")

    @field_validator("grpc_lb_policy", mode="before")
    @classmethod
    def _lb_policy_from_text(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _lb_policy(self) -> "Settings":
        if self.grpc_lb_policy not in LB_POLICIES:
            raise ValueError(f"GENLEAK_GRPC_LB_POLICY must be one of {', '.join(p for p in LB_POLICIES if p)}")
        return self


class _VariablesSource(PydanticBaseSettingsSource):
    """A pydantic-settings source: a model's own fields from the variables in a mapping, as text
    (pydantic converts it, and a bad value is a ValidationError naming the field). Only the variables
    the fields name are read, each with `env.get`; nested settings models are left to their class."""

    def __init__(self, settings_cls: type[EnvironmentSettings], env: Mapping[str, str]):
        super().__init__(settings_cls)
        self._env = env

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        variable = _variable_of(field)
        names = self.settings_cls.variable_names(field_name)
        value = None
        for name in names:
            found = self._env.get(name)
            if found is not None and not (variable.empty_is_unset and found == ""):
                value = found
                break
        secret_path = self._env.get(names[0] + "_FILE") if variable.secret_file else None
        if secret_path:
            value = _mounted_secret(secret_path)
        return value, field_name, False

    def __call__(self) -> dict[str, Any]:
        values = {}
        for field_name, field in self.settings_cls.model_fields.items():
            if _is_settings_model(field.annotation):
                continue
            value, key, _ = self.get_field_value(field, field_name)
            if value is not None:
                values[key] = value
        return values


def _variable_of(field: FieldInfo) -> Variable:
    return next((m for m in field.metadata if isinstance(m, Variable)), Variable())


def _is_settings_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, EnvironmentSettings)


def _mounted_secret(file_path: str) -> str:
    """A secret from a mounted file (Kubernetes secrets)."""
    return Path(file_path).read_text().strip()
