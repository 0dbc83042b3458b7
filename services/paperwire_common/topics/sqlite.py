"""SQLite TopicStore: the embedded backend's store when it persists (`PAPERWIRE_EMBEDDED_DATA_DIR`), so the topics
and their papers — and the ids of the events already emitted — survive a restart of `make run`.

The state is small (tens to hundreds of topics) and replaced whole by every re-clustering: reads are answered from
memory (loaded at open), and a save writes the whole state in one transaction (WAL, `synchronous=FULL`) on a
thread, then swaps the memory copy — so a crash leaves either the old state or the new one, never a mix.

  topics   (id, record)    TopicRecord JSON
  emitted  (id, detected_at)
  meta     (k, v)          as_of
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Mapping, Sequence

from .memory import MemoryTopicStore
from .model import TopicRecord
from .port import DEFAULT_RETENTION_S

_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (id TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS emitted (id TEXT PRIMARY KEY, detected_at REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v REAL NOT NULL) WITHOUT ROWID;
"""


class SqliteTopicStore(MemoryTopicStore):
    def __init__(self, path: str, emitted_retention_s: float = DEFAULT_RETENTION_S) -> None:
        super().__init__(emitted_retention_s)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = FULL")
        self.db.executescript(_SCHEMA)
        self._topics = {
            tid: TopicRecord.model_validate_json(raw) for tid, raw in self.db.execute("SELECT id, record FROM topics")
        }
        self._emitted = dict(self.db.execute("SELECT id, detected_at FROM emitted").fetchall())
        row = self.db.execute("SELECT v FROM meta WHERE k = 'as_of'").fetchone()
        self._as_of = row[0] if row else None
        self._lock = asyncio.Lock()

    def _write(self, topics: Sequence[TopicRecord], emitted: Mapping[str, float], now: float) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM topics")
            db.executemany("INSERT INTO topics VALUES (?, ?)", [(t.id, t.model_dump_json()) for t in topics])
            db.executemany("INSERT OR REPLACE INTO emitted VALUES (?, ?)", list(emitted.items()))
            db.execute("DELETE FROM emitted WHERE detected_at < ?", (now - self.retention,))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('as_of', ?)", (now,))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    async def save(self, topics: Sequence[TopicRecord], emitted: Mapping[str, float], now: float) -> None:
        async with self._lock:  # saves in order; memory changes only once the disk has the new state
            await asyncio.to_thread(self._write, list(topics), dict(emitted), now)
            await super().save(topics, emitted, now)

    async def close(self) -> None:
        async with self._lock:
            self.db.close()
