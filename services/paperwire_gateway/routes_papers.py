"""Papers: one paper, its neighbours, and recommendations from liked and disliked papers."""

# No `from __future__ import annotations`: FastAPI reads the body model and bounds from the annotations.

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from . import scholar
from .bodies import JSON_ONLY
from .deps import IndexDep, PageSize, PublicUrlDep, SearchServiceDep
from .schemas import Paper, Recommendations, RecommendationsRequest, SimilarPapers, problems

router = APIRouter(tags=["papers"])
# Index-internal fields no answer carries (the raw vector: a search's `fields=embedding` is refused too).
HIDDEN_FIELDS = frozenset({"embedding"})


@router.get("/v1/papers/{paper_id}", response_model=Paper, response_model_exclude_unset=True, responses=problems(404))
async def get_paper(index: IndexDep, paper_id: str) -> dict[str, Any]:
    """The indexed document of one paper (without its embedding)."""
    doc = await index.get(paper_id)
    if doc is None:
        raise HTTPException(404, f"no paper with id {paper_id!r}")
    return {k: v for k, v in doc.items() if k not in HIDDEN_FIELDS}


@router.get(
    "/v1/papers/{paper_id}/similar",
    response_model=SimilarPapers,
    response_model_exclude_unset=True,
    responses=problems(404, 422),
)
async def similar_papers(svc: SearchServiceDep, paper_id: str, size: PageSize) -> dict[str, Any]:
    """Nearest papers by embedding (by text when the paper has no embedding)."""
    items, method = await svc.similar(paper_id, size)
    return {"paper_id": paper_id, "method": method, "items": items}


@router.post(
    "/v1/recommendations",
    response_model=Recommendations,
    response_model_exclude_unset=True,
    responses=problems(400, 404, 413, 415, 422),
    dependencies=[JSON_ONLY],
)
async def recommendations(
    svc: SearchServiceDep,
    public_url: PublicUrlDep,
    body: RecommendationsRequest,
    fields: Annotated[
        str | None,
        Query(max_length=500, description=f"comma-separated, of: {', '.join(scholar.FIELDS)} (default paperId,title)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=scholar.MAX_LIMIT)] = scholar.DEFAULT_LIMIT,
) -> dict[str, Any]:
    """Papers like the positive ones and unlike the negative ones, in Semantic Scholar's Recommendations API
    shape (POST /recommendations/v1/papers): `positivePaperIds`, `negativePaperIds` -> `recommendedPapers`."""
    try:
        want = scholar.parse_fields(fields)
    except scholar.UnsupportedFields as e:
        raise HTTPException(400, str(e)) from None
    positive = list(dict.fromkeys(scholar.paper_id(p) for p in body.positivePaperIds))
    negative = list(dict.fromkeys(scholar.paper_id(p) for p in body.negativePaperIds))
    overlap = set(positive) & set(negative)
    if overlap:
        raise HTTPException(422, f"ids both positive and negative: {sorted(overlap)}")
    items = await svc.recommend(positive, negative, limit)
    return {"recommendedPapers": [scholar.recommended_paper(i, want, public_url) for i in items]}
