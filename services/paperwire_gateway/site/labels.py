"""Topic labels for chips, facets and the topic filter: id -> label and the topics by size, read from the topic
store at most every `ttl_s` and refreshed in the background (a re-clustering changes them every few minutes;
reading every topic on every page would cost more than the page)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from paperwire_common.logging import get_logger
from paperwire_common.topics.service import TopicReadService

log = get_logger(__name__)
FILTER_TOPICS = 50  # topics offered by the trending page's filter and the sign-up form (the largest)


@dataclass
class TopicLabels:
    ttl_s: float = 30.0
    labels: dict[str, str] = field(default_factory=dict)
    largest: list[dict[str, Any]] = field(default_factory=list)  # {id, label, size}, largest first
    read_at: float | None = None
    _refresh: asyncio.Task[None] | None = None

    async def current(self, topics: TopicReadService) -> TopicLabels:
        if self.read_at is None:
            await self._read(topics)  # the first page waits; later ones never do
        elif time.monotonic() - self.read_at > self.ttl_s and (self._refresh is None or self._refresh.done()):
            self._refresh = asyncio.create_task(self._read(topics))
        return self

    async def _read(self, topics: TopicReadService) -> None:
        try:
            every = await topics.list_topics(size=1_000_000, sort="size")
        except Exception as e:  # a page without labels beats no page: chips then show topic ids
            log.warning("site.topic_labels_failed", error=repr(e))
            self.read_at = time.monotonic()
            return
        self.labels = {t["id"]: t["label"] for t in every}
        self.largest = [{"id": t["id"], "label": t["label"], "size": t["size"]} for t in every[:FILTER_TOPICS]]
        self.read_at = time.monotonic()

    def label(self, topic_id: str) -> str:
        return self.labels.get(topic_id, topic_id)
