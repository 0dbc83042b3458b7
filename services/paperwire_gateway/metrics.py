"""Request count and latency per route template (not per raw path, which would explode cardinality).

A plain ASGI middleware: Starlette's BaseHTTPMiddleware (`@app.middleware("http")`) runs every request through
extra tasks and memory streams, and it was a visible share of the gateway's CPU per search.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperwire_common.metrics import HTTP_REQUESTS, HTTP_SECONDS


class RequestMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            # The router records the matched route in the (shared) scope: its template is the label.
            route: Any = scope.get("route")
            path = str(getattr(route, "path", None) or "unmatched")
            HTTP_REQUESTS.labels(path, scope["method"], str(status)).inc()
            HTTP_SECONDS.labels(path).observe(time.perf_counter() - start)


def install(app: Any) -> None:
    app.add_middleware(RequestMetrics)
