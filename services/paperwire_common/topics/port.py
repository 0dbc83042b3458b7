"""TopicStore port: the current topics (what the last re-clustering found) and the ids of the events already
emitted. Adapters: memory.py (embedded backend), sqlite.py (embedded backend on a data dir: `make run`),
redis.py (kafka backend); tests/contract/test_topic_store.py runs the same contract against all three.

A re-clustering replaces the whole state in one atomic step: every topic, plus the event ids it emitted. Event
ids are kept `emitted_retention_s` (their detection time is the score) so the set stays bounded; a trending id
only has to outlive its window and the next one, a created id only matters for a topic that disappears and
comes back with the very same founding members.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .model import TopicRecord

DAY = 86_400.0
DEFAULT_RETENTION_S = 90 * DAY


@dataclass
class TopicState:
    topics: dict[str, TopicRecord] = field(default_factory=dict)
    emitted: set[str] = field(default_factory=set)
    as_of: float | None = None  # when it was saved; None = never
    # Its members' assignments were published on papers.topics.v1 (every save follows that publication); False
    # for a store saved before that stream existed, whose papers then all get announced.
    announced: bool = False


class TopicStore(Protocol):
    async def load(self) -> TopicState:
        """Every topic and every remembered emitted event id."""
        ...

    async def save(self, topics: Sequence[TopicRecord], emitted: Mapping[str, float], now: float) -> None:
        """Atomically replace every topic with `topics` and remember `emitted` (event id -> detected_at);
        forget event ids detected before now − retention. The caller has published the topics' assignments."""
        ...

    async def list(self) -> list[TopicRecord]:
        """Every current topic (any order)."""
        ...

    async def get(self, topic_id: str) -> TopicRecord | None: ...

    async def close(self) -> None:
        """Release what the store holds open (the embedded SQLite file); the store is not used after."""
        ...
