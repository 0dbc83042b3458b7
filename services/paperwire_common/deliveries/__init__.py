"""Deliveries: the outbox port (port.py) and its adapters — SQLite (embedded backend) and Redis (Kafka backend)."""

from __future__ import annotations

from typing import Any

from .port import Attempt, Claim, Delivery, DeliveryStore

__all__ = ["Attempt", "Claim", "Delivery", "DeliveryStore", "delivery_store"]


def delivery_store(backends: Any, retention_s: float = 30 * 86400) -> DeliveryStore:
    """The store of these Backends, built once (in embedded mode the gateway and the notifier share it)."""
    store: DeliveryStore | None = backends.deliveries
    if store is None:
        if backends.settings.backend == "embedded":
            from ..subscriptions import notify_db
            from .sqlite import SqliteDeliveryStore

            store = SqliteDeliveryStore(notify_db(backends))
        else:
            from .redis import RedisDeliveryStore

            prefix = f"{backends.settings.namespace}paperwire:notify:{{n}}"
            store = RedisDeliveryStore(backends.redis, prefix=prefix, retention_s=retention_s)
        backends.deliveries = store
    return store
