"""Build the adapters a service needs from CommonSettings (the one place that knows both backends)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .bus.embedded import EmbeddedBus
from .bus.port import EventBus
from .registry import MemoryRegistry, PaperRegistry, RedisRegistry, SqliteRegistry
from .search.embedded import EmbeddedIndex
from .search.port import SearchIndex
from .settings import CommonSettings
from .streams import ALL_STREAMS
from .trends.port import TrendStore


@dataclass
class Backends:
    """Shared adapters. In embedded mode one instance is shared by every service of the process."""

    settings: CommonSettings
    bus: EventBus
    index: SearchIndex
    registry: PaperRegistry
    redis: Any = None
    # Built on first use by paperwire_trending.service.default_store (it owns the half-life settings); one
    # per process, so in embedded mode the gateway reads the very store the trending worker writes.
    trends: TrendStore | None = None
    # The topic store (paperwire_trending.topic_store.default_topic_store), shared the same way.
    topics: Any = None
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
        if self.trends is not None:  # first: its last writes may still be in flight
            await self.trends.close()
        await self.bus.stop()
        await self.index.stop()
        if self.redis is not None:
            await self.redis.aclose()
        self._started = False


def make_backends(settings: CommonSettings, *, client_id: str = "paperwire") -> Backends:
    if settings.backend == "embedded":
        import os

        if not settings.embedded_data_dir:
            return Backends(settings, EmbeddedBus(), EmbeddedIndex(), MemoryRegistry())
        data = settings.embedded_data_dir
        os.makedirs(data, exist_ok=True)
        bus = EmbeddedBus(path=os.path.join(data, "bus.sqlite"))  # first: it locks the data dir
        index = EmbeddedIndex(os.path.join(data, "index.sqlite"))
        registry = SqliteRegistry(os.path.join(data, "registry.sqlite"))
        return Backends(settings, bus, index, registry)
    from redis.asyncio import Redis

    from .bus.kafka import KafkaBus
    from .search.elastic import ElasticIndex

    redis = Redis.from_url(settings.redis_url)
    return Backends(
        settings,
        KafkaBus(settings.kafka_bootstrap, client_id=client_id, namespace=settings.namespace),
        ElasticIndex(settings.elasticsearch_url, settings.namespace + settings.index_alias),
        RedisRegistry(redis, prefix=settings.namespace),
        redis,
    )
