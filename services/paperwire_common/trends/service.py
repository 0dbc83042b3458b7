"""The read side of trends: the ranked feed joined with the documents, the latest papers, a paper's score
explained per window, and what the Hugging Face-shaped daily feed needs. JSON-ready dicts, the way
search/service.py serves searches; the gateway only shapes and validates them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..clock import Clock, iso
from ..search.port import Filters, SearchIndex, SearchRequest
from .port import TrendStore
from .settings import TrendSettings

Window = Literal["24h", "7d", "30d"]
DailySort = Literal["trending", "publishedAt"]
# The document fields a feed item carries (besides its id, and its score and rank in the trending feed).
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
    "summary",
    "doi",
    "ingested_at",
    "project_urls",
)
DAILY_DEPTH = 1000  # the deepest paper of the daily list served (page * limit + limit)


def _best_first(item: tuple[str, float]) -> tuple[float, str]:
    return (-item[1], item[0])


async def _none() -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class DailyEntry:
    item: dict[str, Any]  # a feed item (FEED_FIELDS)
    upvotes: int  # net upvotes: counts are not decayed, so any window's count is the paper's


class TrendReadService:
    def __init__(self, store: TrendStore, index: SearchIndex, settings: TrendSettings, clock: Clock) -> None:
        self.store, self.index, self.settings, self.clock = store, index, settings, clock

    async def _docs(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return await self.index.get_many(list(ids), FEED_FIELDS) if ids else {}

    async def ranked(
        self, window: str, topic: str | None, size: int, now: float, *, parts: bool = False
    ) -> list[dict[str, Any]]:
        """The top `size` papers of the window (of one topic) at `now`, with score and rank; papers no longer in
        the index are left out. `parts`: each item also carries `breakdown`, its window's share per event type."""
        return await self._join(await self.store.top(window, topic, size, now), window, now, parts)

    async def rank_papers(
        self, paper_ids: Sequence[str], window: str, size: int, now: float, *, parts: bool = False
    ) -> list[dict[str, Any]]:
        """These papers ranked by their score in the window (unranked ones last, by id), as `ranked` shapes them:
        a topic's members before the trend store keeps a ranking per topic."""
        got = await asyncio.gather(*(self.store.scores(p, now) for p in paper_ids))
        scored = sorted(((p, s.get(window, 0.0)) for p, s in zip(paper_ids, got, strict=True)), key=_best_first)
        return await self._join(scored[:size], window, now, parts)

    async def _join(
        self, top: Sequence[tuple[str, float]], window: str, now: float, parts: bool
    ) -> list[dict[str, Any]]:
        ids = [p for p, _ in top]
        docs, shares = await asyncio.gather(self._docs(ids), self._shares(ids, window, now) if parts else _none())
        out = []
        for i, (p, s) in enumerate(((p, s) for p, s in top if p in docs), 1):
            item = {**{k: docs[p][k] for k in FEED_FIELDS if k in docs[p]}, "id": p, "score": s, "rank": i}
            if parts:
                item["breakdown"] = shares.get(p, {})
            out.append(item)
        return out

    async def _shares(self, ids: Sequence[str], window: str, now: float) -> dict[str, dict[str, dict[str, Any]]]:
        got = await asyncio.gather(*(self.store.breakdown(p, now) for p in ids))
        return {
            p: {
                t: {"count": b.count, "weight": self.settings.weight(t), "score": b.score}
                for t, b in parts.get(window, {}).items()
            }
            for p, parts in zip(ids, got, strict=True)
        }

    async def trending(self, window: str, topic: str | None, size: int, *, parts: bool = False) -> dict[str, Any]:
        """GET /v1/feeds/trending: {window, topic, as_of, items} (`parts`: see `ranked`)."""
        now = self.clock.now()
        return {
            "window": window,
            "topic": topic,
            "as_of": iso(now),
            "items": await self.ranked(window, topic, size, now, parts=parts),
        }

    async def latest(self, size: int) -> list[dict[str, Any]]:
        """The newest papers (by publication date, then by arrival)."""
        res = await self.index.search(SearchRequest(size=size, fields=FEED_FIELDS, highlight=False))
        return [{**h.doc, "id": h.id} for h in res.hits]

    async def explain(self, paper_id: str) -> dict[str, Any] | None:
        """Per window: the paper's score, the half-life and each event type's count, weight and decayed share;
        None for a paper the index does not hold."""
        if await self.index.get(paper_id) is None:
            return None
        now = self.clock.now()
        scores = await self.store.scores(paper_id, now)
        parts = await self.store.breakdown(paper_id, now)
        windows = {}
        for w, half_life in self.store.half_lives.items():
            windows[w] = {
                "score": scores.get(w, 0.0),
                "half_life_s": half_life,
                "breakdown": {
                    t: {"count": b.count, "weight": self.settings.weight(t), "score": b.score}
                    for t, b in parts.get(w, {}).items()
                },
            }
        return {"paper_id": paper_id, "as_of": iso(now), "windows": windows}

    async def daily(
        self, arrived: tuple[float, float] | None, sort: DailySort, offset: int, limit: int
    ) -> list[DailyEntry]:
        """Hugging Face's daily list, one page: the papers that arrived (ingested_at) in `arrived` = [from,
        before) or the most recent ones, newest arrival first (`publishedAt`) or by 24h trending score
        (`trending`); with their net upvotes. At most DAILY_DEPTH papers deep."""
        now = self.clock.now()
        want = offset + limit
        if sort == "trending" and arrived is None:
            items = (await self.ranked("24h", None, want, now))[offset:]
        else:
            window = Filters(arrived_from=arrived[0], arrived_before=arrived[1]) if arrived else Filters()
            size = DAILY_DEPTH if sort == "trending" else want
            res = await self.index.search(
                SearchRequest(
                    size=size, filters=window, fields=FEED_FIELDS, order="arrival", highlight=False, count=False
                )
            )
            items = [{**h.doc, "id": h.id} for h in res.hits]
            if sort == "trending":  # the window's arrivals by their 24h score (ties: newest arrival first)
                scores = await asyncio.gather(*(self.store.scores(i["id"], now) for i in items))
                order = sorted(range(len(items)), key=lambda k: -scores[k].get("24h", 0.0))
                items = [items[k] for k in order]
            items = items[offset:want]
        parts = await asyncio.gather(*(self.store.breakdown(i["id"], now) for i in items))
        return [
            DailyEntry(i, max((w["upvote"].count for w in b.values() if "upvote" in w), default=0))
            for i, b in zip(items, parts, strict=True)
        ]
