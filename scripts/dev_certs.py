"""Make a throwaway PKI for genleak's TLS/mTLS: a CA, one server certificate for the service names, a client cert.

    python scripts/dev_certs.py deploy/tls                       # compose names + localhost/127.0.0.1
    python scripts/dev_certs.py deploy/tls --names generator.genleak.svc,... --key-mode 644

Writes ca.crt/ca.key, server.crt/server.key (SANs = --names and --ips; usable as server and client cert)
and client.crt/client.key (for `genleak run` and `genleak health` from outside). For development and
tests only: real deployments take certificates from their own CA (cert-manager, Vault, ...).
Uses the `cryptography` package, already in requirements/cpu.lock.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_NAMES = "generator,finetuner,attacker,controller,localhost"
DEFAULT_IPS = "127.0.0.1"


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: str, issuer: x509.Name, public_key, days: int) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days)))


KeyPair = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def make_ca(common_name: str = "genleak-dev-ca", days: int = 365) -> KeyPair:
    key = new_key()
    cert = (_builder(common_name, _name(common_name), key.public_key(), days)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def issue(ca_cert: x509.Certificate, ca_key, common_name: str, dns: tuple[str, ...] = (), ips: tuple[str, ...] = (),
          server: bool = True, client: bool = True, days: int = 365) -> KeyPair:
    """A leaf certificate signed by the CA; SANs from `dns`/`ips`; serverAuth and/or clientAuth usage."""
    key = new_key()
    wanted = ((ExtendedKeyUsageOID.SERVER_AUTH, server), (ExtendedKeyUsageOID.CLIENT_AUTH, client))
    usages = [usage for usage, on in wanted if on]
    builder = (_builder(common_name, ca_cert.subject, key.public_key(), days)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage(usages), critical=False))
    sans = [x509.DNSName(n) for n in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def write_pem(directory: Path, name: str, cert: x509.Certificate, key=None, key_mode: int = 0o600) -> dict[str, str]:
    """Write <name>.crt (and <name>.key with `key_mode`); returns {"cert": path, "key": path}."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"cert": str(directory / f"{name}.crt")}
    Path(paths["cert"]).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        paths["key"] = str(directory / f"{name}.key")
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        fd = os.open(paths["key"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, key_mode)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        os.chmod(paths["key"], key_mode)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="folder to write the PEM files into (e.g. deploy/tls, git-ignored)")
    parser.add_argument("--names", default=DEFAULT_NAMES, help="comma-separated DNS names for the server cert")
    parser.add_argument("--ips", default=DEFAULT_IPS, help="comma-separated IP addresses for the server cert")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--key-mode", default="600", help="octal file mode of the keys; containers run as uid "
                                                          "10001, so bind-mounted dev keys may need 644")
    args = parser.parse_args(argv)
    split = lambda value: tuple(v.strip() for v in value.split(",") if v.strip())  # noqa: E731
    mode = int(args.key_mode, 8)
    ca_cert, ca_key = make_ca(days=args.days)
    write_pem(args.out, "ca", ca_cert, ca_key, key_mode=0o600)
    write_pem(args.out, "server", *issue(ca_cert, ca_key, "genleak-services", split(args.names), split(args.ips),
                                         days=args.days), key_mode=mode)
    client = issue(ca_cert, ca_key, "genleak-client", server=False, days=args.days)
    write_pem(args.out, "client", *client, key_mode=mode)
    print(f"wrote ca, server ({args.names}; {args.ips}) and client certificates to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
