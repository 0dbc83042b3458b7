"""The daily digest: for each confirmed e-mail subscription, the top trending papers of the last 24 h that match its
topics and saved search (the percolator's semantics, so the same as /v1/search), plus the topics that emerged in
the last 24 h; rendered from templates into one multipart message with one-click unsubscribe.

Once per subscription per digest day (the day starts at PAPERWIRE_NOTIFIER_DIGEST_HOUR_UTC): the digest's
delivery id is derived from (subscription, day) and the outbox stores an id once, so several notifier processes,
restarts and `POST /v1/digests/send` called twice queue it once. On schedule, a subscription confirmed after
today's digest hour waits for tomorrow's; the operator's POST sends every confirmed subscription's digest not yet
sent today.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..clock import iso
from ..deliveries.port import Delivery, DeliveryStore
from ..events import SubscriptionRecord
from ..percolator import KnownWords, Percolator
from ..search.port import SearchIndex
from ..subscriptions.port import SubscriptionStore
from ..subscriptions.settings import DAY, NotifySettings
from ..webhooks import messages
from .compose import message, render

CANDIDATES = 200  # trending papers read per digest run, before the per-subscription filters
MAX_TOPICS = 5
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")
FIELDS = (
    "id",
    "title",
    "abstract",
    "summary",
    "authors",
    "topics",
    "topic_labels",
    "methods",
    "datasets",
    "source",
    "has_code",
    "code_url",
    "arxiv_id",
    "published_at",
)


class Trends(Protocol):
    async def top(self, window: str, topic: str | None, size: int, now: float) -> list[tuple[str, float]]: ...


class Topics(Protocol):
    async def list(self) -> Sequence[Any]: ...  # records with id, label, size, created_at


def digest_day(now: float, hour_utc: int) -> tuple[str, float]:
    """(the digest day, YYYY-MM-DD, and when it started): the latest hour_utc:00 UTC at or before now."""
    start = math.floor((now - hour_utc * 3600) / DAY) * DAY + hour_utc * 3600
    return iso(start)[:10], start


@dataclass(frozen=True)
class DigestPaper:
    title: str
    summary_lines: list[str]
    url: str
    code_url: str | None


def summary_lines(doc: dict[str, Any], width: int = 180) -> list[str]:
    """Two lines: the extractive summary's sentences (or the abstract's first), each cut at `width`."""
    text = str(doc.get("summary") or doc.get("abstract") or "").strip()
    lines = [s.strip() for s in _SENTENCE.split(text) if s.strip()][:2]
    return [s if len(s) <= width else s[: width - 1].rsplit(" ", 1)[0] + "…" for s in lines]


def _topic_match(sub: SubscriptionRecord, doc: dict[str, Any]) -> bool:
    if not sub.topics:
        return True
    want = {t.lower() for t in sub.topics}
    have = {str(t).lower() for t in (doc.get("topics") or [])} | {str(t).lower() for t in doc.get("topic_labels") or []}
    return bool(want & have)


class DigestBuilder:
    def __init__(
        self, index: SearchIndex, trends: Trends, topics: Topics | None, settings: NotifySettings, public_url: str
    ) -> None:
        self.index, self.trends, self.topics, self.settings = index, trends, topics, settings
        self.public = public_url.rstrip("/")

    async def _papers(self, now: float) -> list[dict[str, Any]]:
        top = await self.trends.top("24h", None, CANDIDATES, now)
        docs = await self.index.get_many([pid for pid, _ in top], FIELDS)
        return [docs[pid] for pid, _ in top if pid in docs]

    async def _new_topics(self, now: float) -> list[dict[str, Any]]:
        if self.topics is None:
            return []
        fresh = [t for t in await self.topics.list() if t.created_at >= now - DAY]
        fresh.sort(key=lambda t: (-t.size, t.id))
        return [
            {"label": t.label, "size": t.size, "url": messages.topic_url(self.public, t.id)} for t in fresh[:MAX_TOPICS]
        ]

    def render(
        self,
        sub: SubscriptionRecord,
        papers: list[dict[str, Any]],
        new_topics: list[dict[str, Any]],
        day: str,
        now: float,
    ) -> Delivery:
        assert sub.email is not None
        unsubscribe = f"{self.public}/v1/subscriptions/{sub.id}/unsubscribe?token={sub.unsubscribe_token}"
        items = [
            DigestPaper(
                str(d.get("title") or d["id"]),
                summary_lines(d),
                messages.paper_url(self.public, d["id"]),
                d.get("code_url"),
            )
            for d in papers
        ]
        text, html = render(
            "digest",
            {
                "day": day,
                "query": sub.query,
                "papers": items,
                "new_topics": new_topics,
                "email": sub.email,
                "unsubscribe_url": unsubscribe,
            },
        )
        mid = messages.delivery_id(sub.id, f"digest:{day}")
        body = message(
            sender=self.settings.smtp_from,
            to=sub.email,
            subject=f"Paperwire digest {day}: {len(items)} trending paper{'s' if len(items) != 1 else ''}",
            text=text,
            html=html,
            message_id=mid,
            date=now,
            unsubscribe_url=unsubscribe,
        )
        return Delivery(mid, sub.id, "email", "digest", f"digest:{day}", body, now, recipient=sub.email)

    async def queue_due(
        self, store: SubscriptionStore, deliveries: DeliveryStore, now: float, *, scheduled: bool
    ) -> int:
        """Queue today's digest of every subscription that is due and has not had it; returns how many."""
        day, start = digest_day(now, self.settings.digest_hour_utc)
        subs = [
            s
            for s in await store.list()
            if s.channel == "email"
            and s.status == "active"
            and s.confirmed_at is not None
            and (not scheduled or s.confirmed_at <= start)
        ]
        todo = []
        for s in subs:
            if await deliveries.get(messages.delivery_id(s.id, f"digest:{day}")) is None:
                todo.append(s)
        if not todo:
            return 0
        papers, new_topics = await self._papers(now), await self._new_topics(now)
        perc = Percolator(KnownWords(self.index))
        await perc.sync({s.id: s.query for s in todo if s.query})
        hits = {pid: set(q) for pid, q in (await perc.match(papers)).items()}
        out = []
        for s in todo:
            mine = [d for d in papers if _topic_match(s, d) and (not s.query or s.id in hits.get(d["id"], ()))]
            mine = mine[: self.settings.digest_size]
            if mine or new_topics:
                out.append(self.render(s, mine, new_topics, day, now))
        return await deliveries.enqueue(out)
