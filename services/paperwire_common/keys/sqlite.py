"""SQLite KeyStore (embedded backend): `keys.sqlite` in the data dir, so keys survive restarts and
`paperwire keys` can manage them beside a running `paperwire run all`; `:memory:` without a data dir."""

from __future__ import annotations

import sqlite3

from .model import KeyRecord


class SqliteKeyStore:
    def __init__(self, path: str = ":memory:") -> None:
        # Autocommit; WAL so the CLI and the gateway can share the file; a short busy wait for their writes.
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=5.0)
        if path != ":memory:":
            self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS api_keys (id TEXT PRIMARY KEY, hash TEXT UNIQUE NOT NULL, "
            "created_at REAL NOT NULL, record TEXT NOT NULL)"
        )

    async def add(self, record: KeyRecord) -> None:
        try:
            self.db.execute(
                "INSERT INTO api_keys VALUES (?, ?, ?, ?)",
                (record.id, record.hash, record.created_at, record.model_dump_json()),
            )
        except sqlite3.IntegrityError as e:
            raise ValueError(f"a key with this id or hash exists: {record.id}") from e

    async def by_hash(self, key_hash: str) -> KeyRecord | None:
        row = self.db.execute("SELECT record FROM api_keys WHERE hash = ?", (key_hash,)).fetchone()
        return KeyRecord.model_validate_json(row[0]) if row else None

    async def list(self) -> list[KeyRecord]:
        rows = self.db.execute("SELECT record FROM api_keys ORDER BY created_at, id").fetchall()
        return [KeyRecord.model_validate_json(r[0]) for r in rows]

    async def delete(self, key_id: str) -> bool:
        return self.db.execute("DELETE FROM api_keys WHERE id = ?", (key_id,)).rowcount > 0
