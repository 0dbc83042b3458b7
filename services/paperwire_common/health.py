"""/healthz, /readyz and /metrics for a worker service that runs alone (the gateway has its own)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Generator
from typing import Any

import uvicorn
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


class QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the runner owns SIGINT/SIGTERM for every service."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def health_app(name: str, ready: Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]) -> FastAPI:
    """`ready()` gives (ready?, the body of /readyz): paperwire_common.readiness.readiness."""
    app = FastAPI(title=f"paperwire {name}", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": name}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        ok, body = await ready()
        return JSONResponse({**body, "service": name}, status_code=200 if ok else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


async def serve_health(app: FastAPI, host: str, port: int, stop: asyncio.Event) -> None:
    server = QuietServer(uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve())
    await stop.wait()
    server.should_exit = True
    await task
