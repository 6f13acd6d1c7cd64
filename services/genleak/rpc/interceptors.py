"""Server interceptors: domain errors -> gRPC status codes, bearer-token auth, one log line per RPC."""

from __future__ import annotations

import contextlib
import hmac
import logging
import time
from typing import Any, Callable

import grpc

from genleak.core.errors import GenleakError

log = logging.getLogger(__name__)

# Health and reflection stay open so probes and grpcurl work without credentials.
OPEN_SERVICES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
# Status details travel in trailing metadata (8 KiB by default on clients): a message echoing a huge
# request value (a 10 kB job id or URI) would turn into a client-side RESOURCE_EXHAUSTED instead.
MAX_DETAILS_CHARS = 2000


def _details(message: str) -> str:
    if len(message) <= MAX_DETAILS_CHARS:
        return message
    return message[: MAX_DETAILS_CHARS - 40] + f"... ({len(message)} characters, truncated)"


def _wrap_handler(handler: grpc.RpcMethodHandler, wrap: Callable[[Callable, str], Callable], method: str):
    if handler is None:
        return None
    for kind in ("unary_unary", "unary_stream", "stream_unary", "stream_stream"):
        behavior = getattr(handler, kind)
        if behavior is not None:
            factory = getattr(grpc, f"{kind}_rpc_method_handler")
            return factory(wrap(behavior, method, kind.endswith("stream")),
                           request_deserializer=handler.request_deserializer,
                           response_serializer=handler.response_serializer)
    return handler


def _status(code_name: str) -> grpc.StatusCode:
    return getattr(grpc.StatusCode, code_name, grpc.StatusCode.INTERNAL)


class ErrorInterceptor(grpc.ServerInterceptor):
    """Maps GenleakError to its status code and passes a nested call's status (grpc.RpcError) through;
    anything else becomes INTERNAL with a generic message."""

    def intercept_service(self, continuation, handler_call_details):
        return _wrap_handler(continuation(handler_call_details), self._wrap, handler_call_details.method)

    @staticmethod
    def _wrap(behavior: Callable, method: str, streaming: bool) -> Callable:
        def unary(request: Any, context: grpc.ServicerContext):
            with _mapped_errors(method, context):
                return behavior(request, context)

        def stream(request: Any, context: grpc.ServicerContext):
            with _mapped_errors(method, context):
                yield from behavior(request, context)

        return stream if streaming else unary


@contextlib.contextmanager
def _mapped_errors(method: str, context: grpc.ServicerContext):
    started = time.perf_counter()
    try:
        yield
    except GenleakError as exc:
        log.info("rpc %s %s: %s", method, exc.code, exc.message)
        context.abort(_status(exc.code), _details(exc.message))
    except grpc.RpcError as exc:
        # A call this servicer made to another service failed with a status: the caller gets that status
        # (INVALID_ARGUMENT stays INVALID_ARGUMENT), not an opaque INTERNAL.
        code = exc.code() if callable(getattr(exc, "code", None)) else None
        if code is None:
            log.exception("rpc %s crashed", method)
            context.abort(grpc.StatusCode.INTERNAL, "internal error (see service log)")
        log.info("rpc %s: nested call %s: %s", method, code.name, exc.details())
        context.abort(code, _details(exc.details() or code.name))
    except Exception:  # noqa: BLE001
        if context.code() not in (None, grpc.StatusCode.OK):
            raise  # a servicer already aborted with its own status
        log.exception("rpc %s crashed", method)
        context.abort(grpc.StatusCode.INTERNAL, "internal error (see service log)")
    else:
        log.debug("rpc %s ok %.1fms", method, (time.perf_counter() - started) * 1e3)


class AuthInterceptor(grpc.ServerInterceptor):
    """Requires `authorization: Bearer <token>` on every call except health and reflection."""

    def __init__(self, token: str):
        self._expected = f"Bearer {token}".encode()

    def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        if method.startswith(OPEN_SERVICES):
            return continuation(handler_call_details)
        metadata = dict(handler_call_details.invocation_metadata or ())
        given = str(metadata.get("authorization", "")).encode()
        if hmac.compare_digest(given, self._expected):
            return continuation(handler_call_details)
        return _wrap_handler(continuation(handler_call_details), self._deny, method)

    @staticmethod
    def _deny(behavior: Callable, method: str, streaming: bool) -> Callable:
        def deny(request: Any, context: grpc.ServicerContext):
            log.warning("rpc %s rejected: missing or wrong bearer token", method)
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or invalid bearer token")

        return deny
