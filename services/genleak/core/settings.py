"""Process settings, read once from GENLEAK_* environment variables at the entry point.

Nothing below the entry points calls os.getenv: settings objects are passed down.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from genleak.core.errors import InvalidSpec


class StoreSettings(BaseModel):
    """Where artifacts live and how to reach S3. Credentials come from env or mounted secrets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    root: str = Field("file://" + str(Path.home() / ".genleak" / "store"), description="Store root URI (file:///abs or s3://bucket/prefix)")
    cache_dir: Path = Field(Path.home() / ".genleak" / "cache", description="Local cache for fetched artifacts")
    s3_endpoint: str = Field("", description="host:port of the S3 endpoint (MinIO); empty = AWS default")
    s3_access_key: str = Field("", repr=False)
    s3_secret_key: str = Field("", repr=False)
    s3_secure: bool = Field(True, description="Use https for S3")
    s3_region: str = Field("us-east-1")
    s3_part_size: int = Field(16 * 1024 * 1024, description="Multipart part size in bytes (raised automatically "
                                                        "for objects that would need more than 10,000 parts)")
    retry_seconds: float = Field(60.0, ge=0, description="Time budget per store operation for retrying transient "
                                                         "S3 failures (connection refused/reset, timeouts, 5xx, "
                                                         "SlowDown) with exponential backoff; then UNAVAILABLE")
    max_artifact_bytes: int = Field(0, ge=0, description="Largest artifact (sum of its files) publish accepts; "
                                                         "0 = no limit. Larger ones are RESOURCE_EXHAUSTED")


class TlsSettings(BaseModel):
    """TLS for gRPC: PEM file paths. Server side: cert + key (+ client_ca = mTLS, client certs required).
    Client side: on when ca or client_cert is set; ca verifies the server, client_cert/key prove the client."""

    model_config = ConfigDict(frozen=True, extra="forbid")

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


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    store: StoreSettings = StoreSettings()
    auth_token: str = Field("", repr=False, description="Bearer token required on every gRPC call when set")
    tls: TlsSettings = TlsSettings()
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
    pii_salt: str = Field("", repr=False, description="Salt of the hashed PII value ids in attacker outputs; set "
                                                      "a secret one: phones and names are few enough to hash them all")

    @model_validator(mode="after")
    def _lb_policy(self) -> "Settings":
        if self.grpc_lb_policy not in LB_POLICIES:
            raise ValueError(f"GENLEAK_GRPC_LB_POLICY must be one of {', '.join(p for p in LB_POLICIES if p)}")
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        get = lambda name, default="": env.get(f"GENLEAK_{name}", default)  # noqa: E731
        store_kwargs: dict = {
            "s3_endpoint": get("S3_ENDPOINT"),
            "s3_access_key": get("S3_ACCESS_KEY") or env.get("AWS_ACCESS_KEY_ID", ""),
            "s3_secret_key": get("S3_SECRET_KEY") or env.get("AWS_SECRET_ACCESS_KEY", ""),
            "s3_secure": get("S3_SECURE", "true").lower() in ("1", "true", "yes"),
            "s3_region": get("S3_REGION", "us-east-1"),
            # strings: pydantic converts them and names a bad value (see _build)
            "retry_seconds": get("STORE_RETRY_SECONDS", "60"),
            "max_artifact_bytes": get("MAX_ARTIFACT_BYTES", "0"),
        }
        if get("STORE"):
            store_kwargs["root"] = get("STORE")
        if get("CACHE_DIR"):
            store_kwargs["cache_dir"] = Path(get("CACHE_DIR"))
        try:
            return cls._build(get, store_kwargs)
        except ValidationError as exc:  # one readable line at the entry point, not a pydantic dump
            raise InvalidSpec("; ".join(_setting_error(e) for e in exc.errors()), field="settings") from None

    @classmethod
    def _build(cls, get, store_kwargs: dict) -> "Settings":
        tls_names = ("cert", "key", "client_ca", "ca", "client_cert", "client_key", "server_name")
        return cls(
            store=StoreSettings(**store_kwargs),
            auth_token=_read_secret(get("AUTH_TOKEN"), get("AUTH_TOKEN_FILE")),
            tls=TlsSettings(**{name: get(f"TLS_{name.upper()}") for name in tls_names}),
            grpc_lb_policy=get("GRPC_LB_POLICY").strip().lower(),
            generator_addr=get("GENERATOR_ADDR"),
            finetuner_addr=get("FINETUNER_ADDR"),
            attacker_addr=get("ATTACKER_ADDR"),
            controller_addr=get("CONTROLLER_ADDR"),
            log_format=get("LOG_FORMAT", "auto"),
            # strings: pydantic converts them, and a bad value is a ValidationError naming it (one CLI line)
            max_queued_jobs=get("MAX_QUEUED_JOBS", "16"),
            job_workers=get("JOB_WORKERS", "1"),
            max_concurrent_calls=get("MAX_CONCURRENT_CALLS", "2"),
            max_queued_calls=get("MAX_QUEUED_CALLS", "16"),
            max_concurrent_rpcs=get("MAX_CONCURRENT_RPCS", "512"),
            pii_salt=_read_secret(get("PII_SALT"), get("PII_SALT_FILE")),
        )


# Fields whose variable is not GENLEAK_<FIELD> (store fields: StoreSettings is validated on its own).
_ENV_NAMES = {"root": "STORE", "retry_seconds": "STORE_RETRY_SECONDS"}


def _setting_error(error: dict) -> str:
    message = error["msg"].removeprefix("Value error, ")
    loc = [str(p) for p in error["loc"] if p != "store"]
    return f"GENLEAK_{_ENV_NAMES.get(loc[-1], loc[-1].upper())}: {message}" if loc else message


def _read_secret(value: str, file_path: str) -> str:
    """A secret may come inline or from a mounted file (Kubernetes secrets)."""
    if file_path:
        return Path(file_path).read_text().strip()
    return value
