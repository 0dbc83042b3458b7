"""Trending feeds, per-paper explanations, the latest feed and a Hugging Face daily_papers-compatible feed."""

# No `from __future__ import annotations`: FastAPI reads Query(...) bounds from the annotations.

import asyncio
import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request

from paperwire_common.clock import Clock, iso
from paperwire_common.search.port import SearchRequest
from paperwire_common.trends.port import TrendStore
from paperwire_trending.settings import TrendingSettings

from .settings import GatewaySettings

Window = Literal["24h", "7d", "30d"]
FEED_FIELDS = (
    "id",
    "title",
    "abstract",
    "authors",
    "published_at",
    "topics",
    "topic_labels",
    "keyphrases",
    "code_url",
    "has_code",
    "arxiv_id",
    "source",
    "upvotes",
)


def _store(request: Request) -> TrendStore:
    store: TrendStore = request.app.state.trends
    return store


async def _docs(request: Request, ids: list[str]) -> dict[str, dict[str, Any]]:
    index = request.app.state.backends.index
    got = await asyncio.gather(*(index.get(i) for i in ids))
    return {i: d for i, d in zip(ids, got, strict=True) if d is not None}


def router(settings: GatewaySettings, trending: TrendingSettings, clock: Clock) -> APIRouter:
    r = APIRouter()

    async def ranked(request: Request, window: str, topic: str | None, size: int) -> list[dict[str, Any]]:
        top = await _store(request).top(window, topic, size, clock.now())
        docs = await _docs(request, [p for p, _ in top])
        return [
            {**{k: docs[p][k] for k in FEED_FIELDS if k in docs[p]}, "id": p, "score": s, "rank": i}
            for i, (p, s) in enumerate(((p, s) for p, s in top if p in docs), 1)
        ]

    @r.get("/v1/feeds/trending", tags=["trending"])
    async def trending_feed(
        request: Request,
        window: Window = "24h",
        topic: Annotated[str | None, Query(max_length=200)] = None,
        size: Annotated[int, Query(ge=1, le=settings.max_page_size)] = 20,
    ) -> dict[str, Any]:
        """Papers by time-decayed score in the window (see the README for the formula)."""
        return {
            "window": window,
            "topic": topic,
            "as_of": iso(clock.now()),
            "items": await ranked(request, window, topic, size),
        }

    @r.get("/v1/feeds/latest", tags=["trending"])
    async def latest_feed(
        request: Request, size: Annotated[int, Query(ge=1, le=settings.max_page_size)] = 20
    ) -> dict[str, Any]:
        """The newest papers (by publication date, then by arrival)."""
        res = await request.app.state.backends.index.search(
            SearchRequest(size=size, fields=FEED_FIELDS, highlight=False)
        )
        return {"items": [{**h.doc, "id": h.id} for h in res.hits]}

    @r.get("/v1/papers/{paper_id}/trending", tags=["trending"])
    async def explain(request: Request, paper_id: str) -> dict[str, Any]:
        """Why a paper ranks where it does: per window, its score and each event type's share."""
        if await request.app.state.backends.index.get(paper_id) is None:
            raise HTTPException(404, f"no paper with id {paper_id!r}")
        now = clock.now()
        store = _store(request)
        scores = await store.scores(paper_id, now)
        parts = await store.breakdown(paper_id, now)
        windows = {}
        for w, half_life in store.half_lives.items():
            windows[w] = {
                "score": scores.get(w, 0.0),
                "half_life_s": half_life,
                "breakdown": {
                    t: {"count": b.count, "weight": trending.weight(t), "score": b.score}
                    for t, b in parts.get(w, {}).items()
                },
            }
        return {"paper_id": paper_id, "as_of": iso(now), "windows": windows}

    @r.get("/api/daily_papers", tags=["compatibility"])
    async def daily_papers(
        request: Request,
        date: dt.date | None = None,
        sort: Literal["trending", "publishedAt"] = "trending",
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
    ) -> list[dict[str, Any]]:
        """Hugging Face `/api/daily_papers` shape, so existing clients and scripts work unchanged."""
        if sort == "trending":
            items = await ranked(request, "24h", None, limit if date is None else 1000)
        else:
            items = (await latest_feed(request, min(limit * (1 if date is None else 10), settings.max_page_size)))[
                "items"
            ]
        if date is not None:
            items = [i for i in items if str(i.get("published_at", ""))[:10] == date.isoformat()]
        items = items[:limit]
        now = clock.now()
        parts = await asyncio.gather(*(_store(request).breakdown(i["id"], now) for i in items))
        out = []
        for i, b in zip(items, parts, strict=True):
            # Counts are not decayed, so any window's net upvote count is the paper's upvote count.
            upvotes = max((w["upvote"].count for w in b.values() if "upvote" in w), default=0)
            paper = {
                "id": i.get("arxiv_id") or i["id"],
                "title": i.get("title", ""),
                "summary": i.get("abstract", ""),
                "authors": [{"name": a} for a in i.get("authors", [])],
                "publishedAt": i.get("published_at"),
                "upvotes": upvotes,
                "githubRepo": i.get("code_url"),
            }
            out.append(
                {
                    "paper": paper,
                    "title": paper["title"],
                    "summary": paper["summary"],
                    "publishedAt": paper["publishedAt"],
                    "numComments": 0,
                }
            )
        return out

    return r
