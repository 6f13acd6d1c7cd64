"""`genleak health ADDR [--service NAME]`: one grpc.health.v1 Check; exit 0 only when SERVING.

For container health checks (compose `healthcheck`, Docker `HEALTHCHECK`, Kubernetes exec probes
when TLS is on, since native gRPC probes speak plaintext only) and for ops. Dials like every other
client: TLS/mTLS from GENLEAK_TLS_* and the bearer token (health itself needs none). Also runs as
`python -m genleak.rpc.health_check ADDR`, which does not need the CLI or any service module.
"""

from __future__ import annotations

import argparse
import sys
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from genleak.core.errors import GenleakError
from genleak.core.settings import Settings
from genleak.rpc.channels import open_channel

SERVING = health_pb2.HealthCheckResponse.SERVING


def check(address: str, settings: Settings, service: str = "", timeout: float = 5.0) -> str:
    """The status name the server reports for `service` ("" = the whole server); raises grpc.RpcError."""
    with open_channel(address, settings.auth_token, tls=settings.tls, lb_policy=settings.grpc_lb_policy) as channel:
        response = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service),
                                                             timeout=timeout)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)


def wait_serving(address: str, settings: Settings, service: str = "", timeout: float = 5.0, wait: float = 0.0) -> str:
    """Check until SERVING or `wait` seconds have passed; returns the last status (or error) seen."""
    deadline = time.monotonic() + wait
    while True:
        try:
            status = check(address, settings, service, timeout)
        except grpc.RpcError as exc:
            status = f"{exc.code().name}: {exc.details()}"
        if status == "SERVING" or time.monotonic() >= deadline:
            return status
        time.sleep(1.0)


def health_command(args: argparse.Namespace, settings: Settings | None = None) -> int:
    try:
        settings = settings or Settings.from_env()
        if args.server_name:
            tls = settings.tls.model_copy(update={"server_name": args.server_name})
            settings = settings.model_copy(update={"tls": tls})
        status = wait_serving(args.address, settings, args.service, args.timeout, args.wait)
    except GenleakError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    out = sys.stdout if status == "SERVING" else sys.stderr
    print(f"{args.address} {args.service or '(server)'}: {status}", file=out)
    return 0 if status == "SERVING" else 1


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("address", help="host:port (or dns:///host:port) of a genleak server")
    parser.add_argument("--service", default="",
                        help="service name, e.g. genleak.v1.GeneratorService (default: the whole server)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per check")
    parser.add_argument("--wait", type=float, default=0.0, help="retry for up to this many seconds until SERVING")
    parser.add_argument("--server-name", default="", help="TLS: name to verify in the server certificate "
                                                          "(default GENLEAK_TLS_SERVER_NAME or the host)")
    parser.set_defaults(func=health_command)
    return parser


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register `genleak health` on the CLI's subparsers."""
    return add_arguments(subparsers.add_parser("health", help="check a server's gRPC health (exit 0 = SERVING)"))


def main(argv: list[str] | None = None) -> int:
    parser = add_arguments(argparse.ArgumentParser(prog="genleak health", description=__doc__.split("\n")[0]))
    return health_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
