"""PaperRegistry: what the ingestor has already published (paper_id -> version, content hash).

It makes re-ingesting a no-op and gives an updated paper the next version. Redis in production (one hash),
a dict when embedded. It can be rebuilt from papers.raw.v1 (the last event per key wins).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from .sqlite import select_in


class PaperRegistry(Protocol):
    async def lookup(self, paper_ids: Sequence[str]) -> dict[str, tuple[int, str]]: ...

    async def record(self, entries: Mapping[str, tuple[int, str]]) -> None: ...


class MemoryRegistry:
    def __init__(self) -> None:
        self._d: dict[str, tuple[int, str]] = {}

    async def lookup(self, paper_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        return {p: self._d[p] for p in paper_ids if p in self._d}

    async def record(self, entries: Mapping[str, tuple[int, str]]) -> None:
        self._d.update(entries)


class SqliteRegistry:
    """The embedded backend's registry when it persists (PAPERWIRE_EMBEDDED_DATA_DIR): a restart of
    `make run` then finds the sample corpus unchanged and is ready at once."""

    def __init__(self, path: str) -> None:
        import sqlite3

        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.execute("CREATE TABLE IF NOT EXISTS registry (id TEXT PRIMARY KEY, version INTEGER, hash TEXT)")

    async def lookup(self, paper_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        rows = select_in(self.db, "SELECT id, version, hash FROM registry WHERE id IN ({in})", paper_ids)
        return {r[0]: (r[1], r[2]) for r in rows}

    async def record(self, entries: Mapping[str, tuple[int, str]]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO registry VALUES (?, ?, ?)",
                [(p, v, h) for p, (v, h) in entries.items()],
            )


class RedisRegistry:
    KEY = "paperwire:ingest:registry"

    def __init__(self, redis: object, prefix: str = "") -> None:
        from redis.asyncio import Redis

        assert isinstance(redis, Redis)
        self.r: Any = redis  # redis-py's stubs type every command as sync-or-async
        self.key = prefix + self.KEY

    async def lookup(self, paper_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        if not paper_ids:
            return {}
        vals = await self.r.hmget(self.key, list(paper_ids))
        out: dict[str, tuple[int, str]] = {}
        for pid, v in zip(paper_ids, vals, strict=True):
            if v:
                ver, h = (v.decode() if isinstance(v, bytes) else v).split(":", 1)
                out[pid] = (int(ver), h)
        return out

    async def record(self, entries: Mapping[str, tuple[int, str]]) -> None:
        if entries:
            await self.r.hset(self.key, mapping={p: f"{v}:{h}" for p, (v, h) in entries.items()})
