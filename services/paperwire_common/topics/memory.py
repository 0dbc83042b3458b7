"""In-process TopicStore (embedded backend): one per process, shared by the topic job and the gateway."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .model import TopicRecord
from .port import DEFAULT_RETENTION_S, TopicState


class MemoryTopicStore:
    def __init__(self, emitted_retention_s: float = DEFAULT_RETENTION_S) -> None:
        self.retention = emitted_retention_s
        self._topics: dict[str, TopicRecord] = {}
        self._emitted: dict[str, float] = {}
        self._as_of: float | None = None

    async def load(self) -> TopicState:
        return TopicState(dict(self._topics), set(self._emitted), self._as_of, self._as_of is not None)

    async def save(self, topics: Sequence[TopicRecord], emitted: Mapping[str, float], now: float) -> None:
        kept = {k: v for k, v in {**self._emitted, **emitted}.items() if v >= now - self.retention}
        self._topics, self._emitted, self._as_of = {t.id: t for t in topics}, kept, now

    async def list(self) -> list[TopicRecord]:
        return list(self._topics.values())

    async def get(self, topic_id: str) -> TopicRecord | None:
        return self._topics.get(topic_id)

    async def close(self) -> None:
        return None
