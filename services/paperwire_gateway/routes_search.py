"""Search and suggestions."""

# No `from __future__ import annotations`: FastAPI reads the Query(...) bounds from the annotations.

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query

from paperwire_common.search.port import Filters
from paperwire_common.search.service import parse_facets

from .deps import ISO_DATE, PageSize, SearchServiceDep
from .routes_papers import HIDDEN_FIELDS
from .schemas import SearchPage, Suggestions, problems

router = APIRouter(tags=["search"])


@router.get(
    "/v1/search", response_model=SearchPage, response_model_exclude_unset=True, responses=problems(400, 422, 503)
)
async def search(
    svc: SearchServiceDep,
    size: PageSize,
    q: Annotated[
        str, Query(max_length=1000, description='words, "phrases", AND/OR/NOT, +must, -not, field:value')
    ] = "",
    mode: Literal["keyword", "semantic", "hybrid"] = "hybrid",
    topic: Annotated[str | None, Query(max_length=200)] = None,
    has_code: bool | None = None,
    source: Annotated[str | None, Query(max_length=50)] = None,
    from_: Annotated[
        dt.date | None, ISO_DATE, Query(alias="from", description="published on or after (YYYY-MM-DD)")
    ] = None,
    to: Annotated[dt.date | None, ISO_DATE, Query(description="published on or before (YYYY-MM-DD)")] = None,
    cursor: Annotated[str | None, Query(max_length=4000, description="next_cursor of the previous page")] = None,
    fields: Annotated[str | None, Query(max_length=500, description="comma-separated fields to return")] = None,
    explain: bool = False,
    facets: Annotated[
        str | None, Query(max_length=200, description="facets to count: topics,year,has_code,source or all")
    ] = None,
) -> dict[str, Any]:
    """Keyword (BM25), semantic (kNN above a relevance floor) or hybrid (both, fused by a convex combination of
    normalised scores) search, with the facets asked for and a cursor."""
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
    if want and (hidden := sorted(HIDDEN_FIELDS & set(want))):
        raise HTTPException(422, f"fields: {', '.join(hidden)} is not served (see /v1/papers/{{id}}/similar)")
    page = await svc.search(
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


@router.get("/v1/suggest", response_model=Suggestions, responses=problems(422))
async def suggest(
    svc: SearchServiceDep,
    prefix: Annotated[str, Query(min_length=1, max_length=100)],
    size: Annotated[int, Query(ge=1, le=50)] = 10,
) -> dict[str, Any]:
    """Completions of a prefix: paper titles, topic labels and method names."""
    got = await svc.suggest(prefix, size)
    return {"suggestions": [{"text": s.text, "kind": s.kind, "id": s.id} for s in got]}
