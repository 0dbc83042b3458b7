"""SubscriptionStore contract: one suite, run against the SQLite store (embedded) and the compacted-stream store
(Kafka + Redis locks). `open_store()` opens another adapter over the same storage (a restarted process, or a second
process beside the first)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from paperwire_common.events import SubscriptionRecord
from paperwire_common.subscriptions import SubscriptionStore
from paperwire_common.subscriptions.sqlite import SqliteSubscriptionStore

T = 1_767_225_600.0
Factory = Callable[[], Awaitable[SubscriptionStore]]


@pytest.fixture(params=["sqlite", pytest.param("kafka", marks=[pytest.mark.kafka, pytest.mark.redis])])
async def open_store(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Factory]:
    if request.param == "sqlite":
        path = str(tmp_path / "notify.sqlite")

        async def open_sqlite() -> SubscriptionStore:
            return SqliteSubscriptionStore(sqlite3.connect(path, isolation_level=None, check_same_thread=False))

        yield open_sqlite
        return
    from redis.asyncio import Redis

    from paperwire_common.bus.kafka import KafkaBus
    from paperwire_common.streams import ensure_streams
    from paperwire_common.subscriptions.stream import StreamSubscriptionStore

    bootstrap, ns = request.getfixturevalue("kafka_bootstrap"), request.getfixturevalue("namespace")
    redis = Redis.from_url(request.getfixturevalue("redis_url"))
    bus = KafkaBus(bootstrap, namespace=ns)
    await bus.start()
    await ensure_streams(bus)
    opened: list[StreamSubscriptionStore] = []

    async def open_stream() -> SubscriptionStore:
        s = StreamSubscriptionStore(bus, bootstrap, redis, namespace=ns)
        await s.start()
        opened.append(s)
        return s

    yield open_stream
    for s in opened:
        await s.stop()
    await bus.stop()
    await redis.aclose()


def record(i: int, owner: str = "alice", **kw: Any) -> SubscriptionRecord:
    base: dict[str, Any] = dict(
        id=f"sub_{i}",
        revision=1,
        owner=owner,
        channel="webhook",
        url=f"https://hooks.example.org/{i}",
        events=["topic.created"],
        created_at=T + i,
        updated_at=T + i,
    )
    return SubscriptionRecord(**{**base, **kw})


async def test_create_get_list_by_owner_and_durable(open_store: Factory) -> None:
    s = await open_store()
    await s.create(record(1))
    await s.create(record(2, owner="bob"))
    await s.create(record(3))
    assert [r.id for r in await s.list("alice")] == ["sub_1", "sub_3"]
    assert [r.id for r in await s.list()] == ["sub_1", "sub_2", "sub_3"]
    got = await s.get("sub_2")
    assert got is not None and got.owner == "bob" and got.revision == 1
    again = await open_store()  # restart: rebuilt from the storage
    assert [r.id for r in await again.list("alice")] == ["sub_1", "sub_3"]
    assert await again.get("nope") is None


async def test_update_bumps_revision_and_delete_hides(open_store: Factory) -> None:
    s = await open_store()
    await s.create(record(1))
    before = s.changes
    new = await s.update("sub_1", lambda r: r.model_copy(update={"status": "disabled", "status_reason": "410 Gone"}))
    assert new is not None and new.revision == 2 and new.status == "disabled"
    assert s.changes > before
    assert await s.update("sub_1", lambda r: None) == new  # no change
    other = await open_store()
    got = await other.get("sub_1")
    assert got is not None and got.revision == 2 and got.status_reason == "410 Gone"
    await other.update("sub_1", lambda r: r.model_copy(update={"status": "deleted"}))
    assert await other.get("sub_1") is None and await other.list() == []
    assert await other.update("sub_1", lambda r: r) is None
    third = await open_store()
    assert await third.get("sub_1") is None


async def test_concurrent_updates_from_two_processes_lose_nothing(open_store: Factory) -> None:
    a, b = await open_store(), await open_store()
    await a.create(record(1, topics=[]))

    def add(topic: str) -> Callable[[SubscriptionRecord], SubscriptionRecord]:
        return lambda r: r.model_copy(update={"topics": [*r.topics, topic]})

    await asyncio.gather(*(x.update("sub_1", add(f"t{i}")) for i, x in enumerate([a, b] * 5)))
    for x in (a, b, await open_store()):
        for _ in range(50):  # the other process's view follows the stream
            got = await x.get("sub_1")
            if got is not None and got.revision == 11:
                break
            await asyncio.sleep(0.1)
        assert got is not None and got.revision == 11
        assert sorted(got.topics) == sorted(f"t{i}" for i in range(10))
