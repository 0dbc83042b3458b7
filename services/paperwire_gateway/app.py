"""Gateway REST API (FastAPI): search, papers, health, metrics and a small web page."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import FileResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from paperwire_common.backends import Backends
from paperwire_common.clock import Clock, SystemClock
from paperwire_common.logging import get_logger
from paperwire_common.search.service import Fusion, SearchService
from paperwire_trending.service import default_store
from paperwire_trending.settings import TrendingSettings
from paperwire_trending.topic_store import default_topic_store

from . import limits, problems, routes_events, routes_search, routes_topics, routes_trending
from . import metrics as http_metrics
from .settings import GatewaySettings

STATIC = Path(__file__).parent / "static"
log = get_logger(__name__)


def create_app(
    backends: Backends,
    settings: GatewaySettings | None = None,
    readiness: Callable[[], dict[str, bool]] | None = None,
    encoder: Any = None,
    clock: Clock | None = None,
    encoder_reason: str = "the embedding model is not loaded (PAPERWIRE_EMBEDDINGS=false or no model stack)",
) -> FastAPI:
    settings = settings or GatewaySettings()
    secret = settings.cursor_secret
    if not secret:
        # Cursors then only work against this process; several gateways behind one URL need a shared secret.
        secret = secrets.token_hex(16)
        log.info("gateway.cursor_secret_generated", hint="set PAPERWIRE_GATEWAY_CURSOR_SECRET to share cursors")
    search = SearchService(
        backends.index,
        encoder,
        cursor_secret=secret.encode(),
        fusion=Fusion(
            keyword_weight=settings.hybrid_keyword_weight,
            agreement_weight=settings.hybrid_agreement_weight,
            floor=settings.semantic_floor,
            feedback_docs=settings.semantic_feedback_docs,
            feedback_weight=settings.semantic_feedback_weight,
            candidates=settings.hybrid_candidates,
            budget_s=settings.search_budget_ms / 1000,
        ),
        encoder_unavailable_reason=encoder_reason,
    )
    app = FastAPI(
        title="Paperwire",
        version="1.0.0",
        description="Search, feeds and subscriptions for trending research papers. Errors are "
        "application/problem+json (RFC 9457).",
    )
    app.state.backends, app.state.search, app.state.settings = backends, search, settings
    problems.install(app)
    http_metrics.install(app)
    limits.install(app, settings.max_body_bytes)
    app.include_router(routes_search.router(settings))
    app.include_router(routes_events.router(settings))
    trending = TrendingSettings()
    app.state.trends = default_store(backends, trending)
    app.include_router(routes_trending.router(settings, trending, clock or SystemClock()))
    app.state.topics = default_topic_store(backends, emitted_retention_s=trending.topics_emitted_retention_s)
    app.include_router(routes_topics.router(settings))

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process serves requests."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz() -> JSONResponse:
        """Readiness: the index answers and every in-process service has started."""
        checks = {"index": await backends.index.ready(), **(readiness() if readiness else {})}
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503
        )

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    async def index_page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    return app
