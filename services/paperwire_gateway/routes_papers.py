"""Papers: one paper, its neighbours, and recommendations from liked and disliked papers."""

# No `from __future__ import annotations`: FastAPI reads the body model and bounds from the annotations.

from typing import Any

from fastapi import APIRouter, HTTPException

from .bodies import JSON_ONLY
from .deps import IndexDep, PageSize, SearchServiceDep
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
async def recommendations(svc: SearchServiceDep, body: RecommendationsRequest, size: PageSize) -> dict[str, Any]:
    """Papers like the positive ones and unlike the negative ones (Semantic Scholar's request shape)."""
    overlap = set(body.positive_ids) & set(body.negative_ids)
    if overlap:
        raise HTTPException(422, f"ids both positive and negative: {sorted(overlap)}")
    items = await svc.recommend(body.positive_ids, body.negative_ids, size)
    return {"recommended_papers": items}
