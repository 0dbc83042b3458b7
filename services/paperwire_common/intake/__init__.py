"""What the gateway remembers about writes at its door: idempotency claims (a retried POST counts once) and the
star-count ledger (a snapshot may not jump faster than a configured rate). The IntakeStore port (port.py), its
SQLite (embedded) and Redis (kafka backend, shared by every replica) adapters."""

from __future__ import annotations

from typing import Any

from .port import IntakeStore, StarRefusal, StarSnapshot
from .sqlite import SqliteIntakeStore

__all__ = ["IntakeStore", "SqliteIntakeStore", "StarRefusal", "StarSnapshot", "make_intake_store"]


def make_intake_store(redis: Any, namespace: str = "", path: str | None = None) -> IntakeStore:
    """Redis when a client is given (kafka backend), else SQLite at `path` (the embedded data dir) or in memory."""
    if redis is None:
        return SqliteIntakeStore(path or ":memory:")
    from .redis import RedisIntakeStore

    return RedisIntakeStore(redis, prefix=f"{namespace}paperwire:intake")
