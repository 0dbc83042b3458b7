"""Request body size limit: a body over the limit is refused with 413 before it is read into memory. The limit
is PAPERWIRE_GATEWAY_MAX_BODY_BYTES, or a larger one for the routes that take documents (POST /v1/papers)."""

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI

from .problems import PROBLEM

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class BodyLimit:
    def __init__(self, app: Any, max_bytes: int, per_path: dict[str, int] | None = None) -> None:
        self.app, self.max_bytes, self.per_path = app, max_bytes, per_path or {}

    async def _refuse(self, send: Send, limit: int) -> None:
        body = (
            b'{"type":"about:blank","title":"Content Too Large","status":413,'
            b'"detail":"request body over %d bytes"}' % limit
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", PROBLEM.encode()), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope["path"], self.max_bytes)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return
        seen = 0

        async def limited() -> MutableMapping[str, Any]:
            # Chunked bodies carry no length: count as they arrive.
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return msg

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(send, limit)


class _TooLarge(Exception):
    pass


def install(app: FastAPI, max_bytes: int, per_path: dict[str, int] | None = None) -> None:
    app.add_middleware(BodyLimit, max_bytes=max_bytes, per_path=per_path)
