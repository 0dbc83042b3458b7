"""Keys and quotas on gRPC, by REST's rules (access.py), as a server interceptor.

A call sends its key as `authorization: Bearer <key>` metadata and is checked with the gateway's own KeyService
(one verification cache for REST and gRPC) and counted against the same quotas (the key's, or without a key the
peer address's, shared with REST). Malformed, unknown, revoked or expired key → UNAUTHENTICATED (a made-up key
spends the address's quota first); no key while PAPERWIRE_GATEWAY_PUBLIC_READS=false → UNAUTHENTICATED; a method
that needs a scope the key lacks → PERMISSION_DENIED (every method of paperwire.v1.Papers is a read: none needs a
scope today); over the quota → RESOURCE_EXHAUSTED. Every answer carries the RateLimit fields in its trailing
metadata (`ratelimit-policy`, `ratelimit`; `retry-after` when refused). Health and reflection are exempt, as
/healthz and the OpenAPI document are on REST. The master key has no quota. Redis unreachable, as on REST:
a key that cannot be verified → UNAVAILABLE; quotas fail open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, NoReturn
from urllib.parse import unquote

import grpc

from paperwire_common.keys import Principal, Scope
from paperwire_common.metrics import GRPC_REQUESTS

from ..access import Guard
from ..availability import Unavailable
from ..ratelimit import Verdict
from .errors import Context

# Services every client may call without a key or quota (probes, and the schema that reflection serves).
EXEMPT = ("/grpc.health.v1.Health/", "/grpc.reflection.")
# Methods that need a scope: "/package.Service/Method" -> scope. Papers only reads.
METHOD_SCOPES: Mapping[str, Scope] = {}
READS_NEED_A_KEY = "reads need a key here (PAPERWIRE_GATEWAY_PUBLIC_READS=false)"


def peer_address(peer: str) -> str | None:
    """The client address of a gRPC peer string (`ipv4:127.0.0.1:5000`, `ipv6:%5B::1%5D:5000`), as REST sees it."""
    kind, _, rest = unquote(peer).partition(":")
    if kind not in ("ipv4", "ipv6"):
        return None
    return rest.rsplit(":", 1)[0].strip("[]")


class KeyInterceptor(grpc.aio.ServerInterceptor):
    def __init__(
        self,
        guard: Guard,
        public_reads: bool,
        scopes: Mapping[str, Scope] = METHOD_SCOPES,
    ) -> None:
        self.guard, self.limits, self.public_reads, self.scopes = guard, guard.limits, public_reads, scopes

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method: str = details.method
        if handler is None or method.startswith(EXEMPT):
            return handler
        return self._guarded(handler, method)

    def _guarded(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        codec = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def unary(request: Any, context: Context) -> Any:
                await self.admit(method, context)
                return await inner(request, context)

            return grpc.unary_unary_rpc_method_handler(unary, **codec)
        if handler.unary_stream is not None:
            stream = handler.unary_stream

            # An async generator itself: grpc.aio tells streaming handlers apart by their function kind.
            async def server_stream(request: Any, context: Context) -> AsyncIterator[Any]:
                await self.admit(method, context)
                async for item in stream(request, context):
                    yield item

            return grpc.unary_stream_rpc_method_handler(server_stream, **codec)
        raise TypeError(f"{method}: only unary and server-streaming methods are served")  # the proto has no other

    async def admit(self, method: str, context: Context) -> Principal | None:
        """The call's Principal (None: anonymous), or the call ends here with its status code."""
        metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        header = metadata.get("authorization", "").strip()
        principal: Principal | None = None
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                await _refuse(context, method, grpc.StatusCode.UNAUTHENTICATED, "authorization must be `Bearer <key>`")
            try:
                principal = await self.guard.verify(token.strip())
            except Unavailable as exc:
                trailing = (("retry-after", str(exc.retry_after_s)),)
                await _refuse(context, method, grpc.StatusCode.UNAVAILABLE, exc.detail, trailing)
            if principal is None:
                # Counted against the address's quota: a stream of made-up keys is throttled like any other.
                await self._count(context, method, None)
                await _refuse(
                    context, method, grpc.StatusCode.UNAUTHENTICATED, "the key is unknown, revoked or expired"
                )
        scope = self.scopes.get(method)
        if principal is None and (scope or not self.public_reads):
            why = f"this needs a key with scope {scope}" if scope else READS_NEED_A_KEY
            await _refuse(context, method, grpc.StatusCode.UNAUTHENTICATED, why)
        await self._count(context, method, principal)
        if scope and principal is not None and not principal.allows(scope):
            await _refuse(
                context,
                method,
                grpc.StatusCode.PERMISSION_DENIED,
                f"the key {principal.key_id} lacks the scope {scope}",
            )
        return principal

    async def _count(self, context: Context, method: str, principal: Principal | None) -> None:
        if self.limits is None or (principal is not None and principal.master):
            return
        verdict = await self.guard.count(principal, peer_address(context.peer()))
        fields = _fields(verdict)
        if not verdict.allowed:
            who = "key" if principal else "client address"
            await _refuse(
                context,
                method,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"over the quota of this {who}; retry in {verdict.retry_after} s",
                (*fields, ("retry-after", str(verdict.retry_after))),
            )
        context.set_trailing_metadata(fields)


def _fields(verdict: Verdict) -> tuple[tuple[str, str], ...]:
    return tuple((k.decode(), v.decode()) for k, v in verdict.headers)


async def _refuse(
    context: Context, method: str, code: grpc.StatusCode, message: str, trailing: tuple[tuple[str, str], ...] = ()
) -> NoReturn:
    GRPC_REQUESTS.labels(method.rsplit("/", 1)[-1], code.name).inc()
    await context.abort(code, message, trailing)
    raise AssertionError("abort raises")
