"""Deliveries: the outbox port (port.py) and its adapters — SQLite (embedded backend) and Redis (Kafka backend)."""

from __future__ import annotations

import sqlite3
from typing import Any

from .port import Attempt, Claim, Delivery, DeliveryStore

__all__ = ["Attempt", "Claim", "Delivery", "DeliveryStore", "make_delivery_store"]


def make_delivery_store(
    db: sqlite3.Connection | None, redis: Any, namespace: str = "", *, retention_s: float = 30 * 86400
) -> DeliveryStore:
    """SQLite on `db` (embedded backend), else Redis (kafka backend)."""
    if db is not None:
        from .sqlite import SqliteDeliveryStore

        return SqliteDeliveryStore(db)
    from .redis import RedisDeliveryStore

    return RedisDeliveryStore(redis, prefix=f"{namespace}paperwire:notify:{{n}}", retention_s=retention_s)
