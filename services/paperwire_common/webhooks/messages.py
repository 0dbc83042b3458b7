"""What a webhook carries: `{"type", "timestamp", "data"}` (Standard Webhooks' payload shape), its id, and the data
of each event type. Every link is built from PAPERWIRE_PUBLIC_URL."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

import orjson

from ..clock import iso
from ..deliveries.port import Delivery
from ..events import SubscriptionRecord, TopicEvent


def delivery_id(subscription_id: str, event_id: str) -> str:
    """The webhook-id: one event to one subscription, the same on every attempt and every replay."""
    return "msg_" + hashlib.sha256(f"{subscription_id}\x1f{event_id}".encode()).hexdigest()[:32]


def body(event_type: str, data: dict[str, Any], timestamp: float) -> bytes:
    return orjson.dumps({"type": event_type, "timestamp": iso(timestamp), "data": data})


def paper_url(public: str, paper_id: str) -> str:
    """The paper's page on the site (the API's record is /v1/papers/{id})."""
    return f"{public}/papers/{quote(paper_id, safe=':')}"


def topic_url(public: str, topic_id: str) -> str:
    return f"{public}/v1/topics/{quote(topic_id, safe='')}"


def topic_data(ev: TopicEvent, public: str) -> dict[str, Any]:
    return {
        "topic_id": ev.topic_id,
        "label": ev.label,
        "keyphrases": ev.keyphrases,
        "paper_ids": ev.paper_ids,
        "score": ev.score,
        "detected_at": iso(ev.detected_at),
        "url": topic_url(public, ev.topic_id),
    }


def paper_data(doc: dict[str, Any], public: str) -> dict[str, Any]:
    pid = str(doc["id"])
    return {
        "paper_id": pid,
        "title": doc.get("title"),
        "summary": doc.get("summary"),
        "authors": doc.get("authors", [])[:20],
        "arxiv_id": doc.get("arxiv_id"),
        "published_at": doc.get("published_at"),
        "topics": doc.get("topics", []),
        "code_url": doc.get("code_url"),
        "url": paper_url(public, pid),
    }


def webhook(sub: SubscriptionRecord, event_type: str, event_id: str, data: dict[str, Any], now: float) -> Delivery:
    return Delivery(
        id=delivery_id(sub.id, event_id),
        subscription_id=sub.id,
        channel="webhook",
        event_type=event_type,
        event_id=event_id,
        body=body(event_type, data, now),
        created_at=now,
    )
