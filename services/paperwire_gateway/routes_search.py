"""Search, papers, similar papers, recommendations and suggestions."""

# No `from __future__ import annotations`: FastAPI reads the Query(...) bounds, which depend on settings,
# from the annotations when the routes are defined.

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from paperwire_common.search.port import Filters
from paperwire_common.search.service import SearchService, parse_facets

from .settings import GatewaySettings


class Recommendations(BaseModel):
    positive_ids: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1, max_length=100)
    negative_ids: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=100
    )


def _search(request: Request) -> SearchService:
    svc: SearchService = request.app.state.search
    return svc


def router(settings: GatewaySettings) -> APIRouter:
    r = APIRouter()
    max_size = settings.max_page_size
    Size = Annotated[int, Query(ge=1, le=max_size, description=f"results per page, 1..{max_size}")]

    @r.get("/v1/search", tags=["search"])
    async def search(
        request: Request,
        q: Annotated[
            str, Query(max_length=1000, description='words, "phrases", AND/OR/NOT, +must, -not, field:value')
        ] = "",
        mode: Literal["keyword", "semantic", "hybrid"] = "hybrid",
        topic: Annotated[str | None, Query(max_length=200)] = None,
        has_code: bool | None = None,
        source: Annotated[str | None, Query(max_length=50)] = None,
        from_: Annotated[dt.date | None, Query(alias="from", description="published on or after (YYYY-MM-DD)")] = None,
        to: Annotated[dt.date | None, Query(description="published on or before (YYYY-MM-DD)")] = None,
        size: Size = 10,
        cursor: Annotated[str | None, Query(max_length=4000, description="next_cursor of the previous page")] = None,
        fields: Annotated[str | None, Query(max_length=500, description="comma-separated fields to return")] = None,
        explain: bool = False,
        facets: Annotated[
            str | None, Query(max_length=200, description="facets to count: topics,year,has_code,source or all")
        ] = None,
    ) -> dict[str, Any]:
        if from_ and to and from_ > to:
            raise HTTPException(422, "from is after to")
        filters = Filters(
            topic=topic,
            has_code=has_code,
            source=source,
            date_from=from_.isoformat() if from_ else None,
            date_to=to.isoformat() if to else None,
        )
        want = tuple(f.strip() for f in fields.split(",") if f.strip()) if fields else None
        page = await _search(request).search(
            q,
            mode=mode,
            size=size,
            filters=filters,
            cursor=cursor,
            fields=want,
            explain=explain,
            facets=parse_facets(facets),
        )
        body: dict[str, Any] = {
            "total": page.total,
            "total_relation": page.total_relation,
            "items": page.items,
            "facets": page.facets,
            "next_cursor": page.next_cursor,
            "mode": page.mode,
        }
        if page.degraded:
            body["degraded"] = page.degraded
        if page.timed_out:
            body["timed_out"] = True
        return body

    @r.get("/v1/papers/{paper_id}", tags=["papers"])
    async def get_paper(request: Request, paper_id: str) -> dict[str, Any]:
        doc = await request.app.state.backends.index.get(paper_id)
        if doc is None:
            raise HTTPException(404, f"no paper with id {paper_id!r}")
        doc.pop("embedding", None)
        return dict(doc)

    @r.get("/v1/papers/{paper_id}/similar", tags=["papers"])
    async def similar(request: Request, paper_id: str, size: Size = 10) -> dict[str, Any]:
        items, method = await _search(request).similar(paper_id, size)
        return {"paper_id": paper_id, "method": method, "items": items}

    @r.post("/v1/recommendations", tags=["papers"])
    async def recommendations(request: Request, body: Recommendations, size: Size = 10) -> dict[str, Any]:
        """Papers like the positive ones and unlike the negative ones (Semantic Scholar's request shape)."""
        overlap = set(body.positive_ids) & set(body.negative_ids)
        if overlap:
            raise HTTPException(422, f"ids both positive and negative: {sorted(overlap)}")
        items = await _search(request).recommend(body.positive_ids, body.negative_ids, size)
        return {"recommended_papers": items}

    @r.get("/v1/suggest", tags=["search"])
    async def suggest(
        request: Request,
        prefix: Annotated[str, Query(min_length=1, max_length=100)],
        size: Annotated[int, Query(ge=1, le=50)] = 10,
    ) -> dict[str, Any]:
        got = await _search(request).suggest(prefix, size)
        return {"suggestions": [{"text": s.text, "kind": s.kind, "id": s.id} for s in got]}

    return r
