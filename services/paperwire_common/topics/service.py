"""The read side of topics (GET /v1/topics, GET /v1/topics/{id}): JSON-ready dicts from the TopicStore and
the index, the way search/service.py serves searches."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

from ..clock import iso
from ..search.port import SearchIndex
from .model import TopicRecord
from .port import TopicStore

TopicSort = Literal["size", "trending", "recent", "label"]
PAPER_FIELDS = ("id", "title", "ingested_at")  # what a topic's paper list needs of each member
MEMBERS_PER_READ = 500  # one multi-get each
TOPIC_SORTS: tuple[TopicSort, ...] = ("size", "trending", "recent", "label")


def _trend(r: TopicRecord) -> dict[str, Any]:
    t = r.trend
    if t is None:
        return {"recent": 0, "baseline": 0.0, "z": 0.0, "lift": None, "bursting": False, "arrivals": []}
    return {
        "recent": t.recent,
        "baseline": t.baseline,
        "z": t.z,
        "lift": t.lift,
        "bursting": t.bursting,
        "arrivals": list(t.arrivals),
    }


def summary(r: TopicRecord) -> dict[str, Any]:
    """A topic as listed: {id, label, keyphrases, size, cohesion, created_at, trend: {recent, baseline, ...}}."""
    return {
        "id": r.id,
        "label": r.label,
        "keyphrases": r.keyphrases,
        "size": r.size,
        "cohesion": r.cohesion,
        "created_at": iso(r.created_at),
        "trend": _trend(r),
    }


def _sort_key(sort: TopicSort) -> Callable[[TopicRecord], Any]:
    if sort == "trending":
        return lambda r: (-(r.trend.z if r.trend else 0.0), -r.size, r.id)
    if sort == "recent":
        return lambda r: (-r.created_at, -r.size, r.id)
    if sort == "label":
        return lambda r: (r.label, r.id)
    return lambda r: (-r.size, r.id)


class TopicReadService:
    def __init__(self, store: TopicStore, index: SearchIndex) -> None:
        self.store, self.index = store, index

    async def list_topics(self, size: int = 50, sort: TopicSort = "size") -> list[dict[str, Any]]:
        """The current topics (as of the last re-clustering), `size` of them in `sort` order."""
        topics = sorted(await self.store.list(), key=_sort_key(sort))
        return [summary(r) for r in topics[: max(size, 0)]]

    async def get_summary(self, topic_id: str) -> dict[str, Any] | None:
        """The summary alone (no papers); None if unknown."""
        r = await self.store.get(topic_id)
        return summary(r) if r is not None else None

    async def feed(
        self, topic_id: str, size: int, fields: tuple[str, ...]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """The summary and the `size` newest arrivals among its papers (documents with `fields`, ingested_at
        always); None if unknown."""
        r = await self.store.get(topic_id)
        if r is None:
            return None
        want = fields if "ingested_at" in fields else (*fields, "ingested_at")
        docs = await self.index.get_many(r.members, want)

        def newest(d: dict[str, Any]) -> tuple[float, str]:
            t = d.get("ingested_at")
            return (-float(t) if isinstance(t, int | float) else math.inf, d["id"])

        return summary(r), sorted(docs.values(), key=newest)[: max(size, 0)]

    async def get_topic(self, topic_id: str, max_papers: int = 100) -> dict[str, Any] | None:
        """The summary plus its papers [{id, title}], newest arrivals first; None if unknown. Papers deleted from
        the index since the last re-clustering are left out."""
        r = await self.store.get(topic_id)
        if r is None:
            return None
        if max_papers <= 0:  # the summary alone (the site ranks a topic's papers by trend instead)
            return {**summary(r), "papers": []}
        docs: list[tuple[str, dict[str, Any]]] = []
        ids: Sequence[str] = r.members
        for i in range(0, len(ids), MEMBERS_PER_READ):
            chunk = ids[i : i + MEMBERS_PER_READ]
            got = await self.index.get_many(chunk, PAPER_FIELDS)
            docs += [(p, got[p]) for p in chunk if p in got]

        def newest(item: tuple[str, dict[str, Any]]) -> tuple[float, str]:
            t = item[1].get("ingested_at")
            return (-float(t) if isinstance(t, int | float) else math.inf, item[0])

        docs.sort(key=newest)
        papers = [{"id": p, "title": d.get("title", "")} for p, d in docs[: max(max_papers, 0)]]
        return {**summary(r), "papers": papers}
