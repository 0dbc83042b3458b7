"""Subscriptions: the store port (port.py) and its adapters — SQLite for the embedded backend (sqlite.py), the
compacted Kafka stream subscriptions.v1 plus Redis locks for the Kafka backend (stream.py) — the service the
gateway calls (service.py) and the notification settings both sides read (settings.py)."""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from .port import SubscriptionStore

__all__ = ["SubscriptionStore", "make_subscription_store", "notify_db"]


def notify_db(data_dir: str | None) -> sqlite3.Connection:
    """The embedded backend's notification database (subscriptions and deliveries): `notify.sqlite` in the data
    directory, in memory without one."""
    path = ":memory:"
    if data_dir:
        os.makedirs(data_dir, exist_ok=True)
        path = os.path.join(data_dir, "notify.sqlite")
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    if data_dir:
        db.execute("PRAGMA journal_mode=WAL")
    return db


def make_subscription_store(db: sqlite3.Connection | None, bus: Any, settings: Any, redis: Any) -> SubscriptionStore:
    """SQLite on `db` (embedded backend), else the compacted stream on `bus` with Redis locks (kafka backend)."""
    if db is not None:
        from .sqlite import SqliteSubscriptionStore

        return SqliteSubscriptionStore(db)
    from .stream import StreamSubscriptionStore

    return StreamSubscriptionStore(bus, settings.kafka_bootstrap, redis, namespace=settings.namespace)
