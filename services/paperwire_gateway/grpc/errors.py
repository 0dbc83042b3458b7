"""Failures as gRPC status codes, the way problems.py turns them into HTTP statuses.

INVALID_ARGUMENT: a bad request (query syntax, cursor, parameter); NOT_FOUND: no such paper or topic;
UNAVAILABLE: the embedding model or a backend is down (retry later); RESOURCE_EXHAUSTED: over a limit
(UNAUTHENTICATED and PERMISSION_DENIED come from the key checks, auth.py). Anything
else is INTERNAL with a fixed message: the exception is logged, its class and text never reach the client
(grpc's default would send `Unexpected <class ...>: <message>` as UNKNOWN).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias, TypeVar

import grpc

from paperwire_common.errors import backend_unavailable
from paperwire_common.logging import get_logger
from paperwire_common.metrics import GRPC_REQUESTS
from paperwire_common.search.query import QuerySyntaxError
from paperwire_common.search.service import CursorError, NotFound, SemanticUnavailable

log = get_logger(__name__)
T = TypeVar("T")
Context: TypeAlias = grpc.aio.ServicerContext


class RpcError(Exception):
    """A failure with its status code and a message meant for the client."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def invalid(message: str) -> RpcError:
    return RpcError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> RpcError:
    return RpcError(grpc.StatusCode.NOT_FOUND, message)


def status_of(exc: Exception) -> tuple[grpc.StatusCode, str]:
    """The status code and client-facing message of a failure."""
    if isinstance(exc, RpcError):
        return exc.code, exc.message
    if isinstance(exc, QuerySyntaxError | CursorError):
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc)
    if isinstance(exc, NotFound):
        return grpc.StatusCode.NOT_FOUND, f"no paper with id {exc.args[0]!r}"
    if isinstance(exc, SemanticUnavailable):
        return grpc.StatusCode.UNAVAILABLE, str(exc)
    if backend_unavailable(exc):
        return grpc.StatusCode.UNAVAILABLE, "a backend is unavailable; retry later"
    return grpc.StatusCode.INTERNAL, "the server failed; the error was logged"


async def _abort(context: Context, method: str, exc: Exception) -> None:
    code, message = status_of(exc)
    GRPC_REQUESTS.labels(method, code.name).inc()
    if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE):
        log.exception("grpc.failed", method=method, code=code.name)
    await context.abort(code, message)


def unary(
    fn: Callable[[Any, Any, Context], Awaitable[T]],
) -> Callable[[Any, Any, Context], Awaitable[T]]:
    """A unary handler whose failures become status codes."""

    @functools.wraps(fn)
    async def handler(self: Any, request: Any, context: Context) -> T:
        try:
            answer = await fn(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as e:
            await _abort(context, fn.__name__, e)
            raise AssertionError("abort raises") from None
        GRPC_REQUESTS.labels(fn.__name__, "OK").inc()
        return answer

    return handler


def streaming(
    fn: Callable[[Any, Any, Context], AsyncIterator[T]],
) -> Callable[[Any, Any, Context], AsyncIterator[T]]:
    """A server-streaming handler whose failures become status codes."""

    @functools.wraps(fn)
    async def handler(self: Any, request: Any, context: Context) -> AsyncIterator[T]:
        try:
            async for item in fn(self, request, context):
                yield item
        except grpc.aio.AbortError:
            raise
        except Exception as e:
            await _abort(context, fn.__name__, e)
        else:
            GRPC_REQUESTS.labels(fn.__name__, "OK").inc()

    return handler
