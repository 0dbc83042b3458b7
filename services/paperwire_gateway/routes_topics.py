"""Topics: clusters of papers found by the trending service's topic job, with their arrival-burst statistics."""

# No `from __future__ import annotations`: FastAPI reads Query(...) bounds from the annotations.

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request

from paperwire_trending.topic_job import get_topic, list_topics
from paperwire_trending.topic_store import TopicStore

from .settings import GatewaySettings


def _store(request: Request) -> TopicStore:
    store: TopicStore = request.app.state.topics
    return store


def router(settings: GatewaySettings) -> APIRouter:
    r = APIRouter()

    @r.get("/v1/topics", tags=["topics"])
    async def topics(
        request: Request,
        size: Annotated[int, Query(ge=1, le=settings.max_page_size)] = 50,
        sort: Literal["size", "trending", "recent", "label"] = "size",
    ) -> list[dict[str, Any]]:
        """Current topics (as of the last re-clustering): label, keyphrases, size and trend — arrivals in the
        last window (`recent`), the mean of the windows before (`baseline`) and the burst z-score (`z`)."""
        return await list_topics(_store(request), size, sort)

    @r.get("/v1/topics/{topic_id}", tags=["topics"])
    async def topic(
        request: Request,
        topic_id: Annotated[str, Path(max_length=64)],
        papers: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        """One topic with its papers (id, title), newest arrivals first."""
        got = await get_topic(_store(request), request.app.state.backends.index, topic_id, papers)
        if got is None:
            raise HTTPException(404, f"no topic with id {topic_id!r}")
        return got

    return r
