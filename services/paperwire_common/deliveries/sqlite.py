"""DeliveryStore on SQLite (embedded backend; the same file as the subscriptions)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from .port import Attempt, Claim, Delivery, attempt_dict

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY, subscription_id TEXT NOT NULL, channel TEXT NOT NULL, event_type TEXT NOT NULL,
    event_id TEXT NOT NULL, body BLOB NOT NULL, recipient TEXT, created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL, due REAL, reason TEXT, finished_at REAL);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (due) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS deliveries_dead ON deliveries (finished_at) WHERE status = 'dead';
CREATE TABLE IF NOT EXISTS attempts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, subscription_id TEXT NOT NULL, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS attempts_sub ON attempts (subscription_id, seq);
CREATE TABLE IF NOT EXISTS endpoint_failures (subscription_id TEXT PRIMARY KEY, since REAL NOT NULL);
"""
_COLS = "id, subscription_id, channel, event_type, event_id, body, created_at, recipient, attempts, status, due, reason"
MAX_ATTEMPTS_KEPT = 1000  # per subscription


def _delivery(row: Sequence[Any]) -> Delivery:
    return Delivery(
        id=row[0],
        subscription_id=row[1],
        channel=row[2],
        event_type=row[3],
        event_id=row[4],
        body=bytes(row[5]),
        created_at=row[6],
        recipient=row[7],
        attempts=row[8],
        status=row[9],
        next_attempt_at=row[10] if row[9] == "pending" else None,
        reason=row[11],
    )


class SqliteDeliveryStore:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.db.executescript(_SCHEMA)

    async def enqueue(self, deliveries: Sequence[Delivery]) -> int:
        before = self.db.total_changes
        self.db.execute("BEGIN")
        try:
            self.db.executemany(
                f"INSERT OR IGNORE INTO deliveries ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 'pending', ?, NULL)",
                [
                    (
                        d.id,
                        d.subscription_id,
                        d.channel,
                        d.event_type,
                        d.event_id,
                        d.body,
                        d.created_at,
                        d.recipient,
                        d.next_attempt_at if d.next_attempt_at is not None else d.created_at,
                    )
                    for d in deliveries
                ],
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return self.db.total_changes - before

    async def claim(self, now: float, claim: Claim, lease_s: float) -> list[Delivery]:
        left = dict(claim.limits)
        if not any(v > 0 for v in left.values()):
            return []
        rows = self.db.execute(
            f"SELECT {_COLS} FROM deliveries WHERE status = 'pending' AND due <= ? ORDER BY due, id LIMIT ?",
            (now, 50 * max(sum(left.values()), 1)),
        ).fetchall()
        out: list[Delivery] = []
        taken: dict[str, int] = {}
        for row in rows:
            d = _delivery(row)
            if taken.get(d.subscription_id, 0) >= claim.room(d.subscription_id) or left.get(d.channel, 0) <= 0:
                continue
            left[d.channel] -= 1
            taken[d.subscription_id] = taken.get(d.subscription_id, 0) + 1
            out.append(d)
        self.db.executemany("UPDATE deliveries SET due = ? WHERE id = ?", [(now + lease_s, d.id) for d in out])
        return out

    async def record(self, attempt: Attempt, *, reason: str | None = None) -> bool:
        row = self.db.execute("SELECT status FROM deliveries WHERE id = ?", (attempt.delivery_id,)).fetchone()
        if row is None or row[0] != "pending":
            return False
        self.db.execute("BEGIN")
        try:
            if attempt.outcome == "retry":
                self.db.execute(
                    "UPDATE deliveries SET attempts = attempts + 1, due = ? WHERE id = ?",
                    (attempt.next_attempt_at, attempt.delivery_id),
                )
            else:
                status = "delivered" if attempt.outcome == "delivered" else "dead"
                self.db.execute(
                    "UPDATE deliveries SET attempts = attempts + 1, status = ?, due = NULL, reason = ?, "
                    "finished_at = ? WHERE id = ?",
                    (status, reason, attempt.at, attempt.delivery_id),
                )
            self.db.execute(
                "INSERT INTO attempts (subscription_id, record) VALUES (?, ?)",
                (attempt.subscription_id, json.dumps(attempt_dict(attempt))),
            )
            self.db.execute(
                "DELETE FROM attempts WHERE subscription_id = ? AND seq <= "
                "(SELECT seq FROM attempts WHERE subscription_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                (attempt.subscription_id, attempt.subscription_id, MAX_ATTEMPTS_KEPT),
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return True

    async def get(self, delivery_id: str) -> Delivery | None:
        row = self.db.execute(f"SELECT {_COLS} FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
        return _delivery(row) if row else None

    async def attempts(self, subscription_id: str, limit: int = 100) -> list[Attempt]:
        rows = self.db.execute(
            "SELECT record FROM attempts WHERE subscription_id = ? ORDER BY seq DESC LIMIT ?", (subscription_id, limit)
        ).fetchall()
        return [Attempt(**json.loads(r[0])) for r in rows]

    async def dead_letters(self, limit: int = 100) -> list[Delivery]:
        rows = self.db.execute(
            f"SELECT {_COLS} FROM deliveries WHERE status = 'dead' ORDER BY finished_at DESC LIMIT ?", (limit,)
        ).fetchall()
        return [_delivery(r) for r in rows]

    async def pending(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM deliveries WHERE status = 'pending'").fetchone()[0])

    async def endpoint_failed(self, subscription_id: str, now: float) -> float:
        self.db.execute(
            "INSERT OR IGNORE INTO endpoint_failures (subscription_id, since) VALUES (?, ?)", (subscription_id, now)
        )
        row = self.db.execute("SELECT since FROM endpoint_failures WHERE subscription_id = ?", (subscription_id,))
        return float(row.fetchone()[0])

    async def endpoint_succeeded(self, subscription_id: str) -> None:
        self.db.execute("DELETE FROM endpoint_failures WHERE subscription_id = ?", (subscription_id,))
