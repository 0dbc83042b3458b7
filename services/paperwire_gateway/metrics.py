"""Request count and latency per route template (not per raw path, which would explode cardinality)."""

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from starlette.routing import Match

from paperwire_common.metrics import HTTP_REQUESTS, HTTP_SECONDS


def _route(request: Request) -> str:
    for r in request.app.routes:
        if r.matches(request.scope)[0] == Match.FULL:
            return str(getattr(r, "path", "other"))
    return "unmatched"


def install(app: FastAPI) -> None:
    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = _route(request)
            HTTP_REQUESTS.labels(route, request.method, str(status)).inc()
            HTTP_SECONDS.labels(route).observe(time.perf_counter() - start)
