"""Topics: clusters of papers found by the trending service's topic job, with their arrival-burst statistics."""

# No `from __future__ import annotations`: FastAPI reads Query(...) bounds from the annotations.

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from paperwire_common.topics.service import TopicSort

from .deps import TopicListSize, TopicServiceDep
from .schemas import TopicDetail, TopicSummary, problems

router = APIRouter(tags=["topics"])


@router.get("/v1/topics", response_model=list[TopicSummary], responses=problems(422))
async def list_topics(topics: TopicServiceDep, size: TopicListSize, sort: TopicSort = "size") -> list[dict[str, Any]]:
    """Current topics (as of the last re-clustering): label, keyphrases, size and trend — arrivals in the
    last window (`recent`), the mean of the windows before (`baseline`) and the burst z-score (`z`)."""
    return await topics.list_topics(size, sort)


@router.get("/v1/topics/{topic_id}", response_model=TopicDetail, responses=problems(404, 422))
async def get_topic(
    topics: TopicServiceDep,
    topic_id: Annotated[str, Path(max_length=64)],
    papers: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """One topic with its papers (id, title), newest arrivals first."""
    got = await topics.get_topic(topic_id, papers)
    if got is None:
        raise HTTPException(404, f"no topic with id {topic_id!r}")
    return got
