"""Build every store a service needs from the settings (the one place that knows both backends).

`make_backends` builds them all at once — bus, index, registry, trend store, topic store — so every service
of a process shares the same instances: in embedded mode the gateway reads the very stores the workers write.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .bus.embedded import EmbeddedBus
from .bus.port import EventBus
from .intake import IntakeStore, make_intake_store
from .keys import KeyStore, make_key_store
from .registry import MemoryRegistry, PaperRegistry, RedisRegistry, SqliteRegistry
from .search.embedded import EmbeddedIndex
from .search.port import SearchIndex
from .settings import CommonSettings
from .streams import ALL_STREAMS
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
    redis: Any = None
    keys: KeyStore = field(default_factory=lambda: make_key_store(None))
    intake: IntakeStore = field(default_factory=lambda: make_intake_store(None))
    _started: bool = field(default=False, repr=False)

    async def start(self) -> None:
        if self._started:
            return
        await self.bus.start()
        for spec in ALL_STREAMS:
            await self.bus.ensure_topics([spec.name, spec.dlq], partitions=spec.partitions)
        await self.index.start()
        await self.index.ensure_index()
        self._started = True

    async def stop(self) -> None:
        if not self._started:
            return
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
) -> Backends:
    """Every adapter of `settings.backend` (bus, index, registry, trend, topic, API key and intake stores). The
    trend and topic stores take their settings (half-lives, dedupe horizon, retention) from `trends` / `topics`,
    by default from the environment (PAPERWIRE_TRENDING_*)."""
    ts = trends or TrendSettings()
    retention = (topics or TopicStoreSettings()).topics_emitted_retention_s
    redis: Any = None
    bus: EventBus
    index: SearchIndex
    registry: PaperRegistry
    data_dir = settings.embedded_data_dir if settings.backend == "embedded" else None
    if settings.backend == "embedded":
        bus = EmbeddedBus()
        if settings.embedded_data_dir:
            os.makedirs(settings.embedded_data_dir, exist_ok=True)
            index = EmbeddedIndex(os.path.join(settings.embedded_data_dir, "index.sqlite"))
            registry = SqliteRegistry(os.path.join(settings.embedded_data_dir, "registry.sqlite"))
        else:
            index, registry = EmbeddedIndex(), MemoryRegistry()
    else:
        from redis.asyncio import Redis

        from .bus.kafka import KafkaBus
        from .search.elastic import ElasticIndex

        redis = Redis.from_url(settings.redis_url)
        bus = KafkaBus(settings.kafka_bootstrap, client_id=client_id, namespace=settings.namespace)
        index = ElasticIndex(settings.elasticsearch_url, settings.namespace + settings.index_alias)
        registry = RedisRegistry(redis, prefix=settings.namespace)
    trend_store = make_trend_store(
        redis, ts.half_lives(), horizon_s=ts.dedupe_horizon_s, prefix=settings.namespace + "paperwire:trend:{pw}"
    )
    topic_store = make_topic_store(redis, settings.namespace, emitted_retention_s=retention)
    keys = make_key_store(redis, settings.namespace, os.path.join(data_dir, "keys.sqlite") if data_dir else None)
    intake = make_intake_store(redis, settings.namespace, os.path.join(data_dir, "intake.sqlite") if data_dir else None)
    return Backends(settings, bus, index, registry, trend_store, topic_store, redis, keys=keys, intake=intake)
