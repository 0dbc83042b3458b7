"""Build every store a service needs from the settings (the one place that knows both backends).

`make_backends` builds them all at once — bus, index, registry, trend store, topic store, subscription store,
delivery outbox, API key store and intake store — so every service of a process shares the same instances: in
embedded mode the gateway reads the very stores the workers write.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .bus.embedded import EmbeddedBus
from .bus.port import EventBus
from .deliveries import DeliveryStore, make_delivery_store
from .intake import IntakeStore, make_intake_store
from .keys import KeyStore, make_key_store
from .registry import MemoryRegistry, PaperRegistry, RedisRegistry, SqliteRegistry
from .search.embedded import EmbeddedIndex
from .search.port import SearchIndex
from .settings import CommonSettings
from .streams import ensure_streams
from .subscriptions import SubscriptionStore, make_subscription_store, notify_db
from .subscriptions.settings import NotifySettings
from .topics import TopicStore, make_topic_store
from .topics.settings import TopicStoreSettings
from .trends import TrendStore, make_trend_store
from .trends.settings import TrendSettings


@dataclass
class Backends:
    """Shared adapters. In embedded mode one instance is shared by every service of the process."""

    settings: CommonSettings
    bus: EventBus
    index: SearchIndex
    registry: PaperRegistry
    trends: TrendStore
    topics: TopicStore
    subscriptions: SubscriptionStore
    deliveries: DeliveryStore
    redis: Any = None
    keys: KeyStore = field(default_factory=lambda: make_key_store(None))
    intake: IntakeStore = field(default_factory=lambda: make_intake_store(None))
    _started: bool = field(default=False, repr=False)

    async def start(self) -> None:
        if self._started:
            return
        await self.bus.start()
        await ensure_streams(self.bus)
        await self.index.start()
        await self.index.ensure_index()
        # On Kafka: returns once this process's view of subscriptions.v1 has caught up.
        await self.subscriptions.start()
        self._started = True

    async def stop(self) -> None:
        if not self._started:
            return
        await self.trends.close()  # first: their last writes (the trend snapshot) may still be in flight
        await self.topics.close()
        await self.subscriptions.stop()
        await self.bus.stop()
        await self.index.stop()
        if self.redis is not None:
            await self.redis.aclose()
        self._started = False


def make_backends(
    settings: CommonSettings,
    *,
    client_id: str = "paperwire",
    trends: TrendSettings | None = None,
    topics: TopicStoreSettings | None = None,
    notify: NotifySettings | None = None,
) -> Backends:
    """Every adapter of `settings.backend` (bus, index, registry, trend, topic, subscription, delivery, API key and
    intake stores). The trend and topic stores take their settings (half-lives, dedupe horizon, retention) from
    `trends` / `topics`, the outbox its retention from `notify`, by default from the environment
    (PAPERWIRE_TRENDING_*, PAPERWIRE_NOTIFIER_*)."""
    ts = trends or TrendSettings()
    retention = (topics or TopicStoreSettings()).topics_emitted_retention_s
    outbox_retention = (notify or NotifySettings()).retention_s
    redis: Any = None
    bus: EventBus
    index: SearchIndex
    registry: PaperRegistry
    data = settings.embedded_data_dir if settings.backend == "embedded" else None
    db: Any = None
    if settings.backend == "embedded":
        if data:
            os.makedirs(data, exist_ok=True)
            bus = EmbeddedBus(path=os.path.join(data, "bus.sqlite"))  # first: it locks the data dir
            index = EmbeddedIndex(os.path.join(data, "index.sqlite"))
            registry = SqliteRegistry(os.path.join(data, "registry.sqlite"))
        else:
            bus, index, registry = EmbeddedBus(), EmbeddedIndex(), MemoryRegistry()
        db = notify_db(settings.embedded_data_dir)  # subscriptions and deliveries: one SQLite file
    else:
        from redis.asyncio import Redis

        from .bus.kafka import KafkaBus
        from .search.elastic import ElasticIndex

        redis = Redis.from_url(settings.redis_url)
        bus = KafkaBus(
            settings.kafka_bootstrap,
            client_id=client_id,
            namespace=settings.namespace,
            replication_factor=settings.kafka_replication_factor,
        )
        index = ElasticIndex(settings.elasticsearch_url, settings.namespace + settings.index_alias)
        registry = RedisRegistry(redis, prefix=settings.namespace)
    # With a data dir the embedded stores persist beside the log: the trend store as a snapshot rolled forward
    # from the log at start (trends/snapshot.py), the topics as they are (topics/sqlite.py).
    trend_store = make_trend_store(
        redis,
        ts.half_lives(),
        horizon_s=ts.dedupe_horizon_s,
        prefix=settings.namespace + "paperwire:trend:{pw}",
        snapshot_path=os.path.join(data, "trends.sqlite") if data else None,
        snapshot_interval_s=ts.snapshot_interval_s,
    )
    topic_store = make_topic_store(
        redis,
        settings.namespace,
        emitted_retention_s=retention,
        path=os.path.join(data, "topics.sqlite") if data else None,
    )
    subscriptions = make_subscription_store(db, bus, settings, redis)
    deliveries = make_delivery_store(db, redis, settings.namespace, retention_s=outbox_retention)
    keys = make_key_store(redis, settings.namespace, os.path.join(data, "keys.sqlite") if data else None)
    intake = make_intake_store(redis, settings.namespace, os.path.join(data, "intake.sqlite") if data else None)
    return Backends(
        settings,
        bus,
        index,
        registry,
        trend_store,
        topic_store,
        subscriptions,
        deliveries,
        redis,
        keys=keys,
        intake=intake,
    )
