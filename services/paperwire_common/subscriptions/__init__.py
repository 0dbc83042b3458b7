"""Subscriptions: the store port (port.py) and its adapters — SQLite for the embedded backend (sqlite.py), the
compacted Kafka stream subscriptions.v1 plus Redis locks for the Kafka backend (stream.py) — and the service the
gateway calls (service.py)."""

from __future__ import annotations

import os
from typing import Any

from .port import SubscriptionStore

__all__ = ["SubscriptionStore", "notify_db", "subscription_store"]


def notify_db(backends: Any) -> Any:
    """The embedded backend's notification database (subscriptions and deliveries), one per Backends."""
    db = getattr(backends, "_notify_db", None)
    if db is None:
        import sqlite3

        d = backends.settings.embedded_data_dir
        path = os.path.join(d, "notify.sqlite") if d else ":memory:"
        if d:
            os.makedirs(d, exist_ok=True)
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        if d:
            db.execute("PRAGMA journal_mode=WAL")
        backends._notify_db = db
    return db


def subscription_store(backends: Any) -> SubscriptionStore:
    """The store of these Backends, built once (in embedded mode the gateway and the notifier share it)."""
    store: SubscriptionStore | None = backends.subscriptions
    if store is None:
        if backends.settings.backend == "embedded":
            from .sqlite import SqliteSubscriptionStore

            store = SqliteSubscriptionStore(notify_db(backends))
        else:
            from .stream import StreamSubscriptionStore

            s = backends.settings
            store = StreamSubscriptionStore(backends.bus, s.kafka_bootstrap, backends.redis, namespace=s.namespace)
        backends.subscriptions = store
    return store
