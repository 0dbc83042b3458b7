"""In-process EventBus with Kafka's semantics: partitions by crc32(key), consumer groups, committed offsets.

Where the records and the commits live is a `Log`: in memory (`MemoryLog`, tests and throwaway runs) or in SQLite
(`bus.sqlite_log.SqliteLog`, the durable log of `make run`, which then resumes after a restart exactly like a
Kafka consumer group). The bus keeps in memory what every poll needs — partition counts, end offsets, committed
offsets — and asks the log only for records and for writes.

A durable log's I/O runs on two threads (one writes, one reads), so the event loop never waits on SQLite;
a write's in-memory effects (new end offsets, commits) are applied in the write's own task, so a publisher that
is cancelled mid-write cannot leave the bus and the log disagreeing about what was written.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from .log import TP, Log, MemoryLog
from .port import Message, Record

T = TypeVar("T")


def partition_of(key: str, partitions: int) -> int:
    return zlib.crc32(key.encode()) % partitions


class EmbeddedBus:
    def __init__(self, default_partitions: int = 3, *, path: str | None = None) -> None:
        """In memory, or durable in the SQLite file `path` (see bus.sqlite_log)."""
        if path is None:
            self.log: Log = MemoryLog()
        else:
            from .sqlite_log import SqliteLog

            self.log = SqliteLog(path)
        self._default_partitions = default_partitions
        state = self.log.load()
        self._partitions = state.partitions
        self._ends = state.ends
        # committed[group][(topic, partition)] = next offset to read
        self.committed: dict[str, dict[TP, int]] = state.committed
        self._members: dict[str, list[EmbeddedConsumer]] = {}
        self._changed: dict[str, asyncio.Event] = {}
        self._writer = self._reader = None
        if self.log.threaded:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="paperwire-bus-write")
            self._reader = ThreadPoolExecutor(1, thread_name_prefix="paperwire-bus-read")

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        for ex in (self._writer, self._reader):
            if ex is not None:
                await asyncio.to_thread(ex.shutdown, True)  # lets the writes already queued finish
        self._writer = self._reader = None
        self.log.close()

    # -- I/O: on the log's threads when it blocks, else inline
    async def _write(self, fn: Callable[..., T], *args: Any, then: Callable[[T], None]) -> T:
        if self._writer is None:
            res = fn(*args)
            then(res)
            return res
        loop = asyncio.get_running_loop()
        writer = self._writer

        async def write() -> T:
            res = await loop.run_in_executor(writer, fn, *args)
            then(res)
            return res

        # shield: a cancelled caller must not skip `then` for a write that still lands in the log
        return await asyncio.shield(asyncio.ensure_future(write()))

    async def _read(self, wants: Sequence[tuple[str, int, int, int]]) -> list[Record]:
        if self._reader is None:
            return self.log.read(wants)
        return await asyncio.get_running_loop().run_in_executor(self._reader, self.log.read, wants)

    # -- topics
    async def ensure_topics(
        self, names: Sequence[str], partitions: int = 3, configs: Mapping[str, str] | None = None
    ) -> None:
        # configs (compaction) are not applied: the log keeps every record, a superset of what a compacted topic
        # keeps, and the readers of compacted streams take the last record per key.
        missing = {n: partitions for n in dict.fromkeys(names) if n not in self._partitions}
        if missing:
            await self._write(self.log.create, missing, then=lambda _: self._created(missing))

    def _created(self, topics: Mapping[str, int]) -> None:
        for name, n in topics.items():
            self._partitions.setdefault(name, n)

    def changed(self, topic: str) -> asyncio.Event:
        ev = self._changed.get(topic)
        if ev is None:
            ev = self._changed[topic] = asyncio.Event()
        return ev

    # -- producing
    async def publish(self, messages: Sequence[Message]) -> None:
        if not messages:
            return
        new = [m.topic for m in messages if m.topic not in self._partitions]
        if new:  # as Kafka's auto-create: an unknown topic gets the default partition count
            await self.ensure_topics(new, self._default_partitions)
        rows = [(partition_of(m.key, self._partitions[m.topic]), m) for m in messages]
        await self._write(self.log.append, rows, time.time(), then=self._appended)

    def _appended(self, ends: Mapping[TP, int]) -> None:
        for tp, end in ends.items():
            if end > self._ends.get(tp, 0):
                self._ends[tp] = end
        for topic in {t for t, _ in ends}:
            ev = self._changed.pop(topic, None)
            if ev is not None:
                ev.set()  # wakes the waiting polls; the next wait gets a fresh event

    async def end_offsets(self, topic: str) -> dict[int, int]:
        await self.ensure_topics([topic], self._default_partitions)
        return {p: self._ends.get((topic, p), 0) for p in range(self._partitions[topic])}

    def partitions(self, topic: str) -> int:
        return self._partitions.get(topic, 0)

    def end(self, tp: TP) -> int:
        return self._ends.get(tp, 0)

    def records(self, topic: str) -> list[Record]:
        """Every record of a topic, partition by partition (tests and tools; reads the log inline)."""
        return self.log.read([(topic, p, 0, self.end((topic, p))) for p in range(self.partitions(topic))])

    # -- consuming
    def consumer(self, group: str, topics: Sequence[str], *, from_beginning: bool = True) -> EmbeddedConsumer:
        return EmbeddedConsumer(self, group, list(topics), from_beginning)

    def reader(self, topic: str, partition: int, offset: int | None = None) -> EmbeddedReader:
        return EmbeddedReader(self, topic, partition, offset)

    # -- group membership: partitions are split round-robin among a group's live members

    async def _commit(self, group: str, offsets: Mapping[TP, int], *, exact: bool = False) -> None:
        """Kafka keeps the last commit; here a commit only moves forward unless `exact` (a seek)."""
        g = self.committed.get(group, {})
        new = {tp: off for tp, off in offsets.items() if exact or off > g.get(tp, 0)}
        if new:
            await self._write(
                self.log.commit, group, new, then=lambda _: self.committed.setdefault(group, {}).update(new)
            )

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
        tps = sorted({(t, p) for m in members for t in m.topics for p in range(self._partitions[t])})
        for i, tp in enumerate(tps):
            members[i % len(members)].assignment.append(tp)
        for m in members:
            m.positions = {tp: self.position(group, tp, m.from_beginning) for tp in m.assignment}
            m.generation += 1
            m.epoch += 1

    def position(self, group: str, tp: TP, from_beginning: bool = True) -> int:
        """Where a member of `group` starts reading `tp`: the committed offset, else the start or the end."""
        g = self.committed.get(group, {})
        if tp in g:
            return g[tp]
        return 0 if from_beginning else self.end(tp)


class EmbeddedConsumer:
    def __init__(self, bus: EmbeddedBus, group: str, topics: list[str], from_beginning: bool) -> None:
        self.bus, self.group, self.topics, self.from_beginning = bus, group, topics, from_beginning
        self.assignment: list[TP] = []
        self.positions: dict[TP, int] = {}
        self.batch_lock = asyncio.Lock()
        self.generation = 0
        self.epoch = 0  # bumped whenever positions are reset: a read in flight then drops its result
        self._rotation = 0

    async def start(self) -> None:
        await self.bus.ensure_topics(self.topics, self.bus._default_partitions)
        if not self.from_beginning:  # Kafka's auto_offset_reset=latest: a new group starts at the end
            for t in self.topics:
                for p in range(self.bus.partitions(t)):
                    self.bus.committed.setdefault(self.group, {}).setdefault((t, p), self.bus.end((t, p)))
        self.bus._join(self)

    async def stop(self) -> None:
        self.bus._leave(self)

    async def _available(self, max_records: int) -> list[Record]:
        wants: list[tuple[str, int, int, int]] = []
        left = max_records
        # Each poll starts at the next partition, as Kafka's fetcher rotates: a partition that keeps filling
        # (a running ingest) must not starve the others.
        n = len(self.assignment)
        start = self._rotation % n if n else 0
        self._rotation += 1
        for tp in self.assignment[start:] + self.assignment[:start]:
            pos, end = self.positions.get(tp, 0), self.bus.end(tp)
            if pos < end and left > 0:
                n = min(end - pos, left)
                wants.append((tp[0], tp[1], pos, n))
                left -= n
        if not wants:
            return []
        epoch = self.epoch
        out = await self.bus._read(wants)
        if epoch != self.epoch:  # rewound, sought or rebalanced meanwhile
            return []
        for r in out:
            self.positions[(r.topic, r.partition)] = r.offset + 1
        return out

    async def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        out = await self._available(max_records)
        if out or timeout_s <= 0:
            return out
        waits = [asyncio.ensure_future(self.bus.changed(t).wait()) for t in self.topics]
        try:
            await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        return await self._available(max_records)

    async def commit(self, offsets: Mapping[TP, int]) -> None:
        await self.bus._commit(self.group, offsets)

    async def seek(self, offsets: Mapping[TP, int]) -> None:
        await self.bus._commit(self.group, offsets, exact=True)
        for tp, off in offsets.items():
            if tp in self.positions:
                self.positions[tp] = off
        self.epoch += 1

    async def rewind(self) -> None:
        self.positions = {tp: self.bus.position(self.group, tp) for tp in self.assignment}
        self.epoch += 1

    async def committed_offsets(self, partitions: Sequence[TP]) -> dict[TP, int]:
        g = self.bus.committed.get(self.group, {})
        return {tp: g.get(tp, 0) for tp in partitions}

    async def lag(self) -> int:
        g = self.bus.committed.get(self.group, {})
        return sum(max(0, self.bus.end(tp) - g.get(tp, 0)) for tp in self.assignment)


class EmbeddedReader:
    """One partition from any offset, no group (no commits, no rebalances): a gRPC stream's follower."""

    def __init__(self, bus: EmbeddedBus, topic: str, partition: int, offset: int | None) -> None:
        self.bus, self.topic, self.partition, self._asked = bus, topic, partition, offset
        self.position = 0

    async def start(self) -> None:
        end = self.bus.end((self.topic, self.partition))  # the log keeps everything: the oldest offset is 0
        self.position = end if self._asked is None else min(max(self._asked, 0), end)

    async def stop(self) -> None:
        return None

    async def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        tp = (self.topic, self.partition)
        if self.bus.end(tp) <= self.position and timeout_s > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.bus.changed(self.topic).wait(), timeout_s)
        n = min(max_records, self.bus.end(tp) - self.position)
        if n <= 0:
            return []
        out = await self.bus._read([(self.topic, self.partition, self.position, n)])
        self.position += len(out)
        return out
