"""SubscriptionStore on SQLite: the embedded backend (PAPERWIRE_EMBEDDED_DATA_DIR/notify.sqlite; in memory without
a data directory). One process owns the file; calls are short and run on the event loop, so a read-modify-write
with no await inside is atomic."""

from __future__ import annotations

import sqlite3

from ..events import SubscriptionRecord
from .port import Change, live, next_revision

_SCHEMA = """
CREATE TABLE IF NOT EXISTS subscriptions (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, status TEXT NOT NULL, created_at REAL NOT NULL, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS subscriptions_owner ON subscriptions (owner, created_at);
"""


class SqliteSubscriptionStore:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.db.executescript(_SCHEMA)
        self._changes = 0

    @classmethod
    def open(cls, path: str | None) -> SqliteSubscriptionStore:
        return cls(sqlite3.connect(path or ":memory:", check_same_thread=False, isolation_level=None))

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def ready(self) -> bool:
        return True

    def _write(self, r: SubscriptionRecord) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO subscriptions (id, owner, status, created_at, record) VALUES (?, ?, ?, ?, ?)",
            (r.id, r.owner, r.status, r.created_at, r.model_dump_json()),
        )
        self._changes += 1

    def _read(self, subscription_id: str) -> SubscriptionRecord | None:
        row = self.db.execute("SELECT record FROM subscriptions WHERE id = ?", (subscription_id,)).fetchone()
        return SubscriptionRecord.model_validate_json(row[0]) if row else None

    async def create(self, record: SubscriptionRecord) -> SubscriptionRecord:
        if self._read(record.id) is not None:
            raise KeyError(f"subscription {record.id} exists")
        record = record.model_copy(update={"revision": 1})
        self._write(record)
        return record

    async def update(self, subscription_id: str, change: Change) -> SubscriptionRecord | None:
        old = live(self._read(subscription_id))
        if old is None:
            return None
        new = change(old)
        if new is None:
            return old
        new = next_revision(old, new)
        self._write(new)
        return new

    async def get(self, subscription_id: str) -> SubscriptionRecord | None:
        return live(self._read(subscription_id))

    async def list(self, owner: str | None = None) -> list[SubscriptionRecord]:
        sql = "SELECT record FROM subscriptions WHERE status <> 'deleted'"
        args: tuple[str, ...] = ()
        if owner is not None:
            sql, args = sql + " AND owner = ?", (owner,)
        rows = self.db.execute(sql + " ORDER BY created_at, id", args).fetchall()
        return [SubscriptionRecord.model_validate_json(r[0]) for r in rows]

    @property
    def changes(self) -> int:
        return self._changes
