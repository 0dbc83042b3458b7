"""SQLite IntakeStore (embedded backend): `intake.sqlite` in the data dir (claims and the star ledger survive a
restart of `paperwire run all`), or in memory."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence

from ..sqlite import select_in
from .port import StarRefusal, StarSnapshot, star_refusal


class SqliteIntakeStore:
    def __init__(self, path: str = ":memory:") -> None:
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=5.0)
        if path != ":memory:":
            self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(
            "CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at REAL NOT NULL);"
            "CREATE INDEX IF NOT EXISTS claims_expiry ON claims (expires_at);"
            "CREATE TABLE IF NOT EXISTS stars (paper_id TEXT PRIMARY KEY, stars INTEGER NOT NULL, ts REAL NOT NULL);"
        )

    async def claim(self, entries: Mapping[str, str], ttl_s: float, now: float) -> dict[str, str]:
        if not entries:
            return {}
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("DELETE FROM claims WHERE expires_at <= ?", (now,))
            self.db.executemany(
                "INSERT OR IGNORE INTO claims VALUES (?, ?, ?)", [(k, v, now + ttl_s) for k, v in entries.items()]
            )
            rows = select_in(self.db, "SELECT key, value FROM claims WHERE key IN ({in})", list(entries))
            return {k: v for k, v in rows}

    async def check_stars(self, snapshots: Sequence[StarSnapshot], rate_per_s: float) -> list[StarRefusal]:
        if not snapshots:
            return []
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            ids = list({s.paper_id for s in snapshots})
            rows = select_in(self.db, "SELECT paper_id, stars, ts FROM stars WHERE paper_id IN ({in})", ids)
            ledger = {r[0]: (int(r[1]), float(r[2])) for r in rows}
            before = dict(ledger)
            refused = [r for i, s in enumerate(snapshots) if (r := star_refusal(ledger, i, s, rate_per_s))]
            if not refused:
                self.db.executemany(
                    "INSERT OR REPLACE INTO stars VALUES (?, ?, ?)",
                    [(p, v[0], v[1]) for p, v in ledger.items() if before.get(p) != v],
                )
            return refused
