"""The read services' JSON-ready dicts as protobuf messages (proto/paperwire/v1/*.proto)."""

from __future__ import annotations

import math
from typing import Any

from paperwire.v1 import papers_pb2, topics_pb2
from paperwire_common.clock import iso
from paperwire_common.events import TopicEvent

_LIST_FIELDS = (
    "authors",
    "topics",
    "topic_labels",
    "keyphrases",
    "methods",
    "datasets",
    "code_urls",
    "project_urls",
)
_STR_FIELDS = ("id", "title", "abstract", "arxiv_id", "doi", "published_at", "source", "code_url", "summary")


def _number(v: Any) -> float:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else 0.0


def to_paper(doc: dict[str, Any]) -> Any:
    kw: dict[str, Any] = {f: str(doc[f]) for f in _STR_FIELDS if isinstance(doc.get(f), str | int | float)}
    kw.update({f: [str(x) for x in doc.get(f) or []] for f in _LIST_FIELDS if isinstance(doc.get(f), list)})
    version = doc.get("version")
    return papers_pb2.Paper(
        version=int(version) if isinstance(version, int) else 0,
        has_code=bool(doc.get("has_code")),
        ingested_at=_number(doc.get("ingested_at")),
        **kw,
    )


def to_hit(item: dict[str, Any]) -> Any:
    highlights = item.get("highlights") or {}
    return papers_pb2.SearchHit(
        paper=to_paper(item),
        score=_number(item.get("score")),
        title_highlights=highlights.get("title", []),
        abstract_highlights=highlights.get("abstract", []),
    )


def to_trending(feed: dict[str, Any]) -> Any:
    items = [
        papers_pb2.TrendingItem(
            paper=to_paper(i), score=_number(i["score"]), rank=int(i["rank"]), upvotes=int(i.get("upvotes") or 0)
        )
        for i in feed["items"]
    ]
    return papers_pb2.TrendingResponse(
        window=feed["window"], topic=feed["topic"] or "", as_of=feed["as_of"], items=items
    )


def to_topic(t: dict[str, Any]) -> Any:
    trend = t["trend"]
    lift = {"lift": float(trend["lift"])} if trend.get("lift") is not None else {}
    return topics_pb2.Topic(
        id=t["id"],
        label=t["label"],
        keyphrases=t["keyphrases"],
        size=int(t["size"]),
        cohesion=float(t["cohesion"]),
        created_at=t["created_at"],
        trend=topics_pb2.TopicTrend(
            recent=int(trend["recent"]),
            baseline=float(trend["baseline"]),
            z=float(trend["z"]),
            bursting=bool(trend["bursting"]),
            **lift,
        ),
        papers=[topics_pb2.TopicPaper(id=p["id"], title=p["title"]) for p in t.get("papers", [])],
    )


def to_event(ev: TopicEvent, position: int) -> Any:
    score = {"score": float(ev.score)} if ev.score is not None else {}
    return topics_pb2.TopicEvent(
        position=position,
        id=ev.id,
        kind=ev.kind,
        topic_id=ev.topic_id,
        label=ev.label,
        keyphrases=ev.keyphrases,
        paper_ids=ev.paper_ids,
        detected_at=iso(ev.detected_at),
        **score,
    )
