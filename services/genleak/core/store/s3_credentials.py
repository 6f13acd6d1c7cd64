"""Which credentials the S3 store signs its requests with: configured keys, else the standard AWS chain.

Configured keys win: GENLEAK_S3_ACCESS_KEY and GENLEAK_S3_SECRET_KEY (StoreSettings falls back to
AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY when those are unset). Keys that are the AWS environment's
carry its AWS_SESSION_TOKEN, so exported temporary credentials work as they do with the AWS SDKs.

Without keys the store asks the standard AWS credential chain, in the SDKs' order (the first that
answers is used from then on), and never sends anonymous requests:

1. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN)
2. the shared credentials file: AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, profile AWS_PROFILE
   or `default` (static keys and session tokens; no role_arn/sso/credential_process profiles)
3. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (EKS IAM roles for service accounts, or any
   OIDC token), exchanged with STS AssumeRoleWithWebIdentity at AWS_ENDPOINT_URL_STS, else the STS of
   AWS_REGION (else the store's region); MinIO's own STS works too
4. container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (ECS task roles) or
   AWS_CONTAINER_CREDENTIALS_FULL_URI with AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE] (EKS Pod Identity)
5. the EC2 instance metadata service (instance roles, IMDSv2) when neither 3 nor 4 is configured;
   AWS_EC2_METADATA_SERVICE_ENDPOINT moves it, AWS_EC2_METADATA_DISABLED=true turns it off

One chain serves every store of the process with the same region and AWS environment (the artifact store
opens an S3 client per operation), so temporary credentials are fetched once and again 10 s before they
expire, not per request. When the chain finds
nothing, each store operation fails at once with StoreAccessDenied (PERMISSION_DENIED) listing what
was tried. An STS or container-credentials endpoint that cannot be reached (or answers 5xx) is a
transient failure like an unreachable S3 endpoint: the store retries it within its retry budget.

This module (and the minio providers it composes) reads the process environment and files: the
chain is, by definition, what the environment the process runs in provides.
"""

from __future__ import annotations

import logging
import os
import threading

import certifi
import urllib3
from minio.credentials import (
    AWSConfigProvider, Credentials, EnvAWSProvider, IamAwsProvider, Provider, StaticProvider,
)

from genleak.core.errors import InvalidSpec, StoreAccessDenied
from genleak.core.settings import StoreSettings

log = logging.getLogger(__name__)

# Failures of an STS / credentials endpoint worth another try (the store's retry loop treats them as it
# treats an unreachable S3 endpoint). Anything else a provider raises means "no credentials here".
_TRANSIENT = (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)
_DECLINED = (ValueError, KeyError, OSError)

ENVIRONMENT = "environment (AWS_ACCESS_KEY_ID)"
SHARED_FILE = "shared credentials file"
WEB_IDENTITY = "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)"
CONTAINER = "container credentials (AWS_CONTAINER_CREDENTIALS_*)"
INSTANCE_METADATA = "instance metadata (IMDS)"


def s3_credentials(settings: StoreSettings) -> Provider:
    """The credentials provider for a store: the configured keys, or the standard chain without them."""
    if settings.s3_access_key or settings.s3_secret_key:
        if not (settings.s3_access_key and settings.s3_secret_key):
            missing = "GENLEAK_S3_SECRET_KEY" if settings.s3_access_key else "GENLEAK_S3_ACCESS_KEY"
            raise InvalidSpec(f"S3 keys are set in half: {missing} is missing (set both, or neither to use the "
                              "standard AWS credential chain)", field="store.s3_access_key")
        return StaticProvider(settings.s3_access_key, settings.s3_secret_key, _session_token(settings))
    return _shared_chain(settings.s3_region)


_CHAINS: dict[tuple, StandardChain] = {}
_CHAINS_LOCK = threading.Lock()


def _shared_chain(region: str) -> StandardChain:
    """The process's chain for this region and this AWS environment (a changed environment gets a new one)."""
    env = os.environ
    key = (region, env.get("HOME", ""), tuple(sorted((k, v) for k, v in env.items() if k.startswith("AWS_"))))
    with _CHAINS_LOCK:
        chain = _CHAINS.get(key)
        if chain is None:
            chain = _CHAINS[key] = StandardChain(region)
        return chain


def _session_token(settings: StoreSettings) -> str | None:
    """AWS_SESSION_TOKEN belongs to the AWS_* keys only: static GENLEAK_S3_* keys never pick up a stray one."""
    env = os.environ
    from_aws = (settings.s3_access_key, settings.s3_secret_key) == (env.get("AWS_ACCESS_KEY_ID"),
                                                                    env.get("AWS_SECRET_ACCESS_KEY"))
    return (env.get("AWS_SESSION_TOKEN") or None) if from_aws else None


def _metadata_http_client() -> urllib3.PoolManager:
    # Short timeouts: off EC2 the metadata address does not answer, and that must fail in seconds.
    # 5xx is retried for every method (STS is POST); on exhaustion urllib3 raises, which is transient.
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=2.0, read=10.0),
        retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504),
                              allowed_methods=None),
        cert_reqs="CERT_REQUIRED",
        ca_certs=certifi.where(),
    )


class StandardChain(Provider):
    """The AWS SDKs' default credential chain over minio's providers (see the module docstring)."""

    def __init__(self, region: str = ""):
        env = os.environ
        http = _metadata_http_client()
        self._providers: list[tuple[str, Provider]] = [(ENVIRONMENT, EnvAWSProvider()),
                                                       (SHARED_FILE, AWSConfigProvider())]
        # IamAwsProvider takes one path, decided by the environment exactly as below.
        if env.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
            self._providers.append((WEB_IDENTITY, IamAwsProvider(
                custom_endpoint=env.get("AWS_ENDPOINT_URL_STS") or None, region=region or None, http_client=http)))
        elif env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
            self._providers.append((CONTAINER, IamAwsProvider(http_client=http)))
        elif env.get("AWS_EC2_METADATA_DISABLED", "").strip().lower() != "true":
            self._providers.append((INSTANCE_METADATA, IamAwsProvider(
                custom_endpoint=env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or None, http_client=http)))
        self._lock = threading.Lock()
        self._current: tuple[str, Provider] | None = None
        self._credentials: Credentials | None = None

    @property
    def sources(self) -> list[str]:
        """The sources this chain asks, in order."""
        return [name for name, _ in self._providers]

    @property
    def source(self) -> str | None:
        """The source that answered last (None before the first answer)."""
        return self._current[0] if self._current else None

    def retrieve(self) -> Credentials:
        with self._lock:  # one fetch at a time: concurrent requests wait for it instead of repeating it
            if self._credentials is not None and not self._credentials.is_expired():
                return self._credentials
            if self._current is not None:
                name, provider = self._current
                try:
                    return self._keep(provider.retrieve())
                except _TRANSIENT:
                    raise
                except _DECLINED as exc:
                    log.warning("S3 credentials from %s no longer available (%s); asking the chain again", name, exc)
                    self._current = self._credentials = None
            return self._first_answer()

    def _first_answer(self) -> Credentials:
        reasons = []
        for name, provider in self._providers:
            try:
                credentials = provider.retrieve()
            except _TRANSIENT as exc:
                if name != INSTANCE_METADATA:
                    raise  # a configured STS / container endpoint is down: retried like S3 itself
                reasons.append(f"{name}: unreachable ({_describe(exc)})")  # not on EC2: no credentials
            except _DECLINED as exc:
                reasons.append(f"{name}: {_describe(exc)}")
            else:
                self._current = (name, provider)
                log.info("S3 credentials from the standard AWS chain: %s", name)
                return self._keep(credentials)
        raise StoreAccessDenied(
            "no S3 credentials: GENLEAK_S3_ACCESS_KEY and GENLEAK_S3_SECRET_KEY are unset and the standard AWS "
            "credential chain found none (" + "; ".join(reasons) + "). Set the keys, or give the process an AWS "
            "profile, web identity (IRSA), container or instance role; see deploy/README.md")

    def _keep(self, credentials: Credentials) -> Credentials:
        self._credentials = credentials
        return credentials


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ValueError) and str(exc) == "Access key must not be empty":
        return "not set"
    reason = getattr(exc, "reason", None)  # urllib3's MaxRetryError wraps the real cause
    return f"{type(reason).__name__}: {reason}" if reason is not None else f"{type(exc).__name__}: {exc}"
