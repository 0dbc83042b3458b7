"""Where the embedded bus keeps its records and commits: the `Log` port, and `MemoryLog` (tests, throwaway runs).
The durable one is `sqlite_log.SqliteLog` (`make run`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .port import Message, Record

TP = tuple[str, int]


@dataclass
class LogState:
    """What a log holds, as the bus mirrors it: partitions per topic, end offsets, committed offsets by group."""

    partitions: dict[str, int] = field(default_factory=dict)
    ends: dict[TP, int] = field(default_factory=dict)
    committed: dict[str, dict[TP, int]] = field(default_factory=dict)


class Log(Protocol):
    """Storage of an EmbeddedBus. Writes (`create`, `append`, `commit`) come one at a time in order; reads may run
    beside a write (SQLite WAL), and only ask for offsets below end offsets a finished `append` reported."""

    threaded: bool  # True: the bus calls it on its I/O threads (blocking storage); False: on the event loop

    def load(self) -> LogState: ...

    def create(self, topics: Mapping[str, int]) -> None: ...

    def append(self, rows: Sequence[tuple[int, Message]], ts: float) -> dict[TP, int]:
        """Append (partition, message) rows in order, all or nothing; returns the new end offset per partition."""
        ...

    def read(self, wants: Sequence[tuple[str, int, int, int]]) -> list[Record]:
        """Records of each (topic, partition, start offset, limit), in offset order."""
        ...

    def commit(self, group: str, offsets: Mapping[TP, int]) -> None:
        """Store these committed offsets of a group (exact values, lower ones too)."""
        ...

    def close(self) -> None: ...


class MemoryLog:
    threaded = False

    def __init__(self) -> None:
        self.parts: dict[TP, list[Record]] = {}

    def load(self) -> LogState:
        return LogState()

    def create(self, topics: Mapping[str, int]) -> None:
        for name, n in topics.items():
            for p in range(n):
                self.parts.setdefault((name, p), [])

    def append(self, rows: Sequence[tuple[int, Message]], ts: float) -> dict[TP, int]:
        ends: dict[TP, int] = {}
        for p, m in rows:
            log = self.parts[(m.topic, p)]
            log.append(Record(m.topic, m.key, m.value, m.headers, p, len(log), ts))
            ends[(m.topic, p)] = len(log)
        return ends

    def read(self, wants: Sequence[tuple[str, int, int, int]]) -> list[Record]:
        return [r for t, p, start, n in wants for r in self.parts[(t, p)][start : start + n]]

    def commit(self, group: str, offsets: Mapping[TP, int]) -> None:
        return None  # the bus's own mirror is the store

    def close(self) -> None:
        return None
