"""EventBus port: what services need from a log-structured bus (Kafka semantics).

Contract (tests/contract/test_event_bus.py runs it against every adapter):
- one key always lands in the same partition, so one paper's events stay in order;
- a consumer group sees each record at least once; it resumes after the last *committed* offset;
- records polled but not committed are delivered again after `rewind()` or a restart (crash safety);
- a durable bus (Kafka; the embedded bus with a data dir) keeps records and commits across a restart, and a
  publish that returned is on disk (Kafka: acknowledged by the in-sync replicas);
- a reader (no group) reads one partition from any kept offset, in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Message:
    topic: str
    key: str
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v.decode()
        return None


@dataclass(frozen=True)
class Record(Message):
    partition: int = 0
    offset: int = 0
    timestamp: float = 0.0


@dataclass
class TopicPartitionOffsets:
    """Next offset to read per (topic, partition) — what a commit stores."""

    offsets: dict[tuple[str, int], int] = field(default_factory=dict)

    def advance(self, records: Sequence[Record]) -> None:
        for r in records:
            tp = (r.topic, r.partition)
            self.offsets[tp] = max(self.offsets.get(tp, 0), r.offset + 1)


class Producer(Protocol):
    async def publish(self, messages: Sequence[Message]) -> None:
        """Durably append all messages (acks=all on Kafka); raises if any could not be written."""
        ...


class Consumer(Protocol):
    # Held by the runner from poll to commit; a rebalance waits for it (flush-and-commit on revoke).
    batch_lock: asyncio.Lock
    topics: list[str]  # the (logical, un-namespaced) topics it subscribes to
    generation: int  # bumped whenever partitions are revoked or assigned (a read-ahead batch may be stale)

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        """Up to max_records records, waiting at most timeout_s for the first one."""
        ...

    async def commit(self, offsets: Mapping[tuple[str, int], int]) -> None:
        """Store the next offsets to read for this group."""
        ...

    async def seek(self, offsets: Mapping[tuple[str, int], int]) -> None:
        """Read these partitions from these offsets (next to read) on, and commit them there — lower than the
        committed ones too. For a sink that keeps its own offsets atomically with its data (the trend store): when
        it lost some (restored from an older snapshot), the group resumes where the sink stands. Partitions not
        assigned to this consumer yet are moved when they are."""
        ...

    async def rewind(self) -> None:
        """Go back to the last committed offsets (after a failed batch): uncommitted records come again."""
        ...

    async def lag(self) -> int:
        """Records in assigned partitions after the committed offsets."""
        ...

    async def committed_offsets(self, partitions: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """This group's committed offsets (next to read; 0 when none) of any partitions, assigned or not."""
        ...


class StreamReader(Protocol):
    """One partition read from a position, outside any consumer group: nothing is committed, no rebalance
    (a client following a stream, e.g. gRPC WatchTopicEvents)."""

    position: int  # the offset of the next record to read (set by start())

    async def start(self) -> None:
        """Position at the offset asked for, clamped to what the partition holds (its oldest kept record, its
        end); at the end when none was asked for."""
        ...

    async def stop(self) -> None: ...

    async def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        """Up to max_records records from `position` on, in offset order, waiting at most timeout_s."""
        ...


class EventBus(Producer, Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ensure_topics(
        self, names: Sequence[str], partitions: int = 3, configs: Mapping[str, str] | None = None
    ) -> None:
        """Create the topics that do not exist yet (with these topic configs, e.g. cleanup.policy)."""
        ...

    def consumer(self, group: str, topics: Sequence[str], *, from_beginning: bool = True) -> Consumer: ...

    async def end_offsets(self, topic: str) -> dict[int, int]: ...

    def reader(self, topic: str, partition: int, offset: int | None = None) -> StreamReader:
        """A StreamReader of one partition from `offset` (None: from its end)."""
        ...
