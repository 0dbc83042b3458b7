"""Research topics (clusters of papers): the TopicStore port (port.py), its memory, SQLite and Redis adapters, the
stored model (model.py) and the read side the gateway serves (service.py). Clustering and detection live in
paperwire_trending, which writes the store."""

from __future__ import annotations

from typing import Any

from .memory import MemoryTopicStore
from .model import TopicRecord, Trend
from .port import DEFAULT_RETENTION_S, TopicState, TopicStore

__all__ = ["MemoryTopicStore", "TopicRecord", "TopicState", "TopicStore", "Trend", "make_topic_store"]


def make_topic_store(
    redis: Any,
    namespace: str = "",
    *,
    emitted_retention_s: float = DEFAULT_RETENTION_S,
    path: str | None = None,
) -> TopicStore:
    """Redis when a client is given (kafka backend), else in memory (embedded backend), in the SQLite file `path`
    when given (embedded with a data dir)."""
    if redis is None:
        if path is not None:
            from .sqlite import SqliteTopicStore

            return SqliteTopicStore(path, emitted_retention_s)
        return MemoryTopicStore(emitted_retention_s)
    from .redis import RedisTopicStore

    return RedisTopicStore(redis, prefix=f"{namespace}paperwire:topics", emitted_retention_s=emitted_retention_s)
