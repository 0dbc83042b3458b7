"""Gateway REST API (FastAPI): search, papers, health, metrics and a small web page."""

# No `from __future__ import annotations` here: FastAPI resolves the Query(...) bounds, which depend on
# settings, from the annotations at definition time.

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from paperwire_common.backends import Backends
from paperwire_common.search.port import SearchRequest
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import metrics as http_metrics
from . import problems
from .settings import GatewaySettings

STATIC = Path(__file__).parent / "static"


def create_app(
    backends: Backends,
    settings: GatewaySettings | None = None,
    readiness: Callable[[], dict[str, bool]] | None = None,
) -> FastAPI:
    settings = settings or GatewaySettings()
    app = FastAPI(
        title="Paperwire",
        version="1.0.0",
        description="Search, feeds and subscriptions for trending research papers.",
    )
    problems.install(app)
    http_metrics.install(app)

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

    @app.get("/v1/search", tags=["search"])
    async def search(
        q: Annotated[
            str, Query(max_length=1000, description='query: words, "phrases", +must, -not, field:value')
        ] = "",
        size: Annotated[int, Query(ge=1, le=settings.max_page_size)] = 10,
        has_code: bool | None = None,
        topic: Annotated[str | None, Query(max_length=200)] = None,
        fields: Annotated[
            str | None, Query(max_length=500, description="comma-separated fields to return")
        ] = None,
    ) -> dict[str, Any]:
        req = SearchRequest(
            q=q,
            size=size,
            has_code=has_code,
            topic=topic,
            fields=tuple(f.strip() for f in fields.split(",") if f.strip()) if fields else None,
        )
        res = await backends.index.search(req)
        items = [{**h.doc, "id": h.id, "score": h.score, "highlights": h.highlights} for h in res.hits]
        return {"total": res.total, "items": items, "facets": {}, "next_cursor": None}

    @app.get("/v1/papers/{paper_id}", tags=["papers"])
    async def get_paper(paper_id: str) -> dict[str, Any]:
        doc = await backends.index.get(paper_id)
        if doc is None:
            raise HTTPException(404, f"no paper with id {paper_id!r}")
        doc.pop("embedding", None)
        return doc

    @app.get("/", include_in_schema=False)
    async def index_page(_: Request) -> FileResponse:
        return FileResponse(STATIC / "index.html")

    return app
