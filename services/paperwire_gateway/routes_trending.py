"""Trending feeds, the latest feed and per-paper explanations of the trending score."""

# No `from __future__ import annotations`: FastAPI reads Query(...) bounds from the annotations.

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from paperwire_common.trends.service import Window

from .deps import FeedSize, TrendServiceDep
from .schemas import LatestFeed, TrendExplain, TrendingFeed, problems

router = APIRouter(tags=["trending"])


@router.get(
    "/v1/feeds/trending", response_model=TrendingFeed, response_model_exclude_unset=True, responses=problems(422)
)
async def trending_feed(
    trends: TrendServiceDep,
    size: FeedSize,
    window: Window = "24h",
    topic: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """Papers by time-decayed score in the window (see the README for the formula)."""
    return await trends.trending(window, topic, size)


@router.get("/v1/feeds/latest", response_model=LatestFeed, response_model_exclude_unset=True, responses=problems(422))
async def latest_feed(trends: TrendServiceDep, size: FeedSize) -> dict[str, Any]:
    """The newest papers (by publication date, then by arrival)."""
    return {"items": await trends.latest(size)}


@router.get("/v1/papers/{paper_id}/trending", response_model=TrendExplain, responses=problems(404))
async def explain_trending(trends: TrendServiceDep, paper_id: str) -> dict[str, Any]:
    """Why a paper ranks where it does: per window, its score and each event type's share."""
    got = await trends.explain(paper_id)
    if got is None:
        raise HTTPException(404, f"no paper with id {paper_id!r}")
    return got
