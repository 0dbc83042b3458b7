"""In-process EventBus with Kafka's semantics: partitions, consumer groups, committed offsets.

It keeps the log in memory, so it is for `make run` and tests, not durability. Partitioning uses
crc32(key) so a key always maps to the same partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .port import Message, Record


@dataclass
class _Topic:
    partitions: list[list[Record]]
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class EmbeddedBus:
    def __init__(self, default_partitions: int = 3) -> None:
        self._topics: dict[str, _Topic] = {}
        self._default_partitions = default_partitions
        # committed[group][(topic, partition)] = next offset to read
        self.committed: dict[str, dict[tuple[str, int], int]] = {}
        self._members: dict[str, list[EmbeddedConsumer]] = {}

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def ensure_topics(self, names: Sequence[str], partitions: int = 3) -> None:
        for n in names:
            self._topic(n, partitions)

    def _topic(self, name: str, partitions: int | None = None) -> _Topic:
        t = self._topics.get(name)
        if t is None:
            t = _Topic([[] for _ in range(partitions or self._default_partitions)])
            self._topics[name] = t
        return t

    async def publish(self, messages: Sequence[Message]) -> None:
        touched: set[str] = set()
        for m in messages:
            t = self._topic(m.topic)
            p = zlib.crc32(m.key.encode()) % len(t.partitions)
            log = t.partitions[p]
            log.append(Record(m.topic, m.key, m.value, m.headers, p, len(log), time.time()))
            touched.add(m.topic)
        for name in touched:
            ev = self._topics[name].changed
            ev.set()
            self._topics[name].changed = asyncio.Event()

    async def end_offsets(self, topic: str) -> dict[int, int]:
        return {i: len(p) for i, p in enumerate(self._topic(topic).partitions)}

    def records(self, topic: str) -> list[Record]:
        """Every record of a topic, partition by partition (for tests and rebuilds)."""
        return [r for p in self._topic(topic).partitions for r in p]

    def consumer(self, group: str, topics: Sequence[str], *, from_beginning: bool = True) -> EmbeddedConsumer:
        return EmbeddedConsumer(self, group, list(topics), from_beginning)

    def reader(self, topic: str, partition: int, offset: int | None = None) -> EmbeddedReader:
        return EmbeddedReader(self, topic, partition, offset)

    # -- group membership: partitions are split round-robin among a group's live members
    def _join(self, c: EmbeddedConsumer) -> None:
        self._members.setdefault(c.group, []).append(c)
        self._rebalance(c.group)

    def _leave(self, c: EmbeddedConsumer) -> None:
        members = self._members.get(c.group, [])
        if c in members:
            members.remove(c)
        self._rebalance(c.group)

    def _rebalance(self, group: str) -> None:
        members = self._members.get(group, [])
        for m in members:
            m.assignment = []
        if not members:
            return
        tps = sorted({(t, p) for m in members for t in m.topics for p in range(len(self._topic(t).partitions))})
        for i, tp in enumerate(tps):
            members[i % len(members)].assignment.append(tp)
        for m in members:
            m.positions = {tp: self._committed(group, tp, m.from_beginning) for tp in m.assignment}
            m.generation += 1

    def _committed(self, group: str, tp: tuple[str, int], from_beginning: bool) -> int:
        g = self.committed.setdefault(group, {})
        if tp not in g and not from_beginning:
            g[tp] = len(self._topic(tp[0]).partitions[tp[1]])
        return g.get(tp, 0)


class EmbeddedConsumer:
    def __init__(self, bus: EmbeddedBus, group: str, topics: list[str], from_beginning: bool) -> None:
        self.bus, self.group, self.topics, self.from_beginning = bus, group, topics, from_beginning
        self.assignment: list[tuple[str, int]] = []
        self.positions: dict[tuple[str, int], int] = {}
        self.batch_lock = asyncio.Lock()
        self.generation = 0

    async def start(self) -> None:
        self.bus._join(self)

    async def stop(self) -> None:
        self.bus._leave(self)

    def _available(self, max_records: int) -> list[Record]:
        out: list[Record] = []
        for tp in self.assignment:
            log = self.bus._topic(tp[0]).partitions[tp[1]]
            pos = self.positions.get(tp, 0)
            take = log[pos : pos + max_records - len(out)]
            if take:
                out.extend(take)
                self.positions[tp] = pos + len(take)
            if len(out) >= max_records:
                break
        return out

    async def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        out = self._available(max_records)
        if out or timeout_s <= 0:
            return out
        waits = [asyncio.ensure_future(self.bus._topic(t).changed.wait()) for t in self.topics]
        try:
            await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        return self._available(max_records)

    async def commit(self, offsets: Mapping[tuple[str, int], int]) -> None:
        g = self.bus.committed.setdefault(self.group, {})
        for tp, off in offsets.items():
            g[tp] = max(g.get(tp, 0), off)

    async def rewind(self) -> None:
        self.positions = {tp: self.bus._committed(self.group, tp, True) for tp in self.assignment}

    async def committed_offsets(self, partitions: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        g = self.bus.committed.get(self.group, {})
        return {tp: g.get(tp, 0) for tp in partitions}

    async def lag(self) -> int:
        g = self.bus.committed.get(self.group, {})
        return sum(len(self.bus._topic(t).partitions[p]) - g.get((t, p), 0) for t, p in self.assignment)


class EmbeddedReader:
    def __init__(self, bus: EmbeddedBus, topic: str, partition: int, offset: int | None) -> None:
        self.bus, self.topic, self.partition, self._asked = bus, topic, partition, offset
        self.position = 0

    def _log(self) -> list[Record]:
        parts = self.bus._topic(self.topic).partitions
        return parts[self.partition] if self.partition < len(parts) else []

    async def start(self) -> None:
        end = len(self._log())
        self.position = end if self._asked is None else min(max(self._asked, 0), end)

    async def stop(self) -> None:
        return None

    async def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        if len(self._log()) <= self.position and timeout_s > 0:
            changed = self.bus._topic(self.topic).changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout_s)
        out = self._log()[self.position : self.position + max_records]
        self.position += len(out)
        return out
