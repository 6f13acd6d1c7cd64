"""Process settings, read once from GENLEAK_* environment variables at the entry point.

Nothing below the entry points calls os.getenv: settings objects are passed down.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from pydantic import BaseModel, ConfigDict, Field


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
    s3_part_size: int = Field(16 * 1024 * 1024, description="Multipart part size in bytes")


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    store: StoreSettings = StoreSettings()
    auth_token: str = Field("", repr=False, description="Bearer token required on every gRPC call when set")
    generator_addr: str = ""
    finetuner_addr: str = ""
    attacker_addr: str = ""
    controller_addr: str = ""
    log_format: str = "auto"
    max_queued_jobs: int = 16
    job_workers: int = 1

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
        }
        if get("STORE"):
            store_kwargs["root"] = get("STORE")
        if get("CACHE_DIR"):
            store_kwargs["cache_dir"] = Path(get("CACHE_DIR"))
        return cls(
            store=StoreSettings(**store_kwargs),
            auth_token=_read_secret(get("AUTH_TOKEN"), get("AUTH_TOKEN_FILE")),
            generator_addr=get("GENERATOR_ADDR"),
            finetuner_addr=get("FINETUNER_ADDR"),
            attacker_addr=get("ATTACKER_ADDR"),
            controller_addr=get("CONTROLLER_ADDR"),
            log_format=get("LOG_FORMAT", "auto"),
            max_queued_jobs=int(get("MAX_QUEUED_JOBS", "16")),
            job_workers=int(get("JOB_WORKERS", "1")),
        )


def _read_secret(value: str, file_path: str) -> str:
    """A secret may come inline or from a mounted file (Kubernetes secrets)."""
    if file_path:
        return Path(file_path).read_text().strip()
    return value
