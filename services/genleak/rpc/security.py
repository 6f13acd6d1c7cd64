"""TLS / mTLS credentials for servers and channels, built from TlsSettings (PEM file paths).

Server: `cert` + `key` -> TLS only on that port; with `client_ca` clients must present a certificate
that chains to it (mTLS). Client: `ca` verifies the server (empty = the system roots), `client_cert` +
`client_key` answer an mTLS server; the bearer token rides as call credentials, which gRPC only
sends over a secure channel.
"""

from __future__ import annotations

from pathlib import Path

import grpc

from genleak.core.errors import InvalidSpec
from genleak.core.settings import TlsSettings


def _read(path: str, setting: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InvalidSpec(f"cannot read {path!r}: {exc.strerror}", field=f"GENLEAK_TLS_{setting}") from None


def server_credentials(tls: TlsSettings) -> grpc.ServerCredentials:
    pair = (_read(tls.key, "KEY"), _read(tls.cert, "CERT"))
    if tls.client_ca:
        return grpc.ssl_server_credentials([pair], root_certificates=_read(tls.client_ca, "CLIENT_CA"),
                                           require_client_auth=True)
    return grpc.ssl_server_credentials([pair])


def channel_credentials(tls: TlsSettings, token: str = "") -> grpc.ChannelCredentials:
    creds = grpc.ssl_channel_credentials(
        root_certificates=_read(tls.ca, "CA") if tls.ca else None,
        private_key=_read(tls.client_key, "CLIENT_KEY") if tls.client_cert else None,
        certificate_chain=_read(tls.client_cert, "CLIENT_CERT") if tls.client_cert else None,
    )
    if token:
        creds = grpc.composite_channel_credentials(creds, grpc.access_token_call_credentials(token))
    return creds
