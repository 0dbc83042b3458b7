"""TopicStore contract (paperwire_common/topics/port.py), run against every adapter: memory, SQLite and Redis; the
SQLite one (the embedded backend on a data dir) also keeps its state across a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from paperwire_common.topics import MemoryTopicStore, TopicStore
from paperwire_common.topics.sqlite import SqliteTopicStore
from paperwire_trending.detection import detect
from tests.unit.trending.corpus import corpus


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TopicStore]:
    if request.param == "memory":
        yield MemoryTopicStore(emitted_retention_s=100.0)
        return
    if request.param == "sqlite":
        s = SqliteTopicStore(str(tmp_path / "topics.sqlite"), emitted_retention_s=100.0)
        yield s
        await s.close()
        return
    from redis.asyncio import Redis

    from paperwire_common.topics.redis import RedisTopicStore

    r = Redis.from_url(request.getfixturevalue("redis_url"))
    prefix = f"{request.getfixturevalue('namespace')}paperwire:topics"
    try:
        yield RedisTopicStore(r, prefix=prefix, emitted_retention_s=100.0)
    finally:
        await r.delete(prefix, f"{prefix}:emitted", f"{prefix}:meta")
        await r.aclose()


async def test_save_replaces_every_topic_and_forgets_old_event_ids(store: TopicStore) -> None:
    assert (await store.load()).as_of is None and not (await store.load()).announced
    d = detect(corpus({"ts": 8, "proteins": 6, "robots": 5}), {}, set(), 1_000.0)
    await store.save(d.topics, {e.id: e.detected_at for e in d.events}, 1_000.0)
    state = await store.load()
    assert state.as_of == 1_000.0 and state.announced  # saved after its assignments were published
    assert state.topics == {t.id: t for t in d.topics}
    assert state.emitted == {e.id for e in d.events}
    assert sorted(await store.list(), key=lambda t: t.id) == sorted(d.topics, key=lambda t: t.id)
    assert await store.get(d.topics[0].id) == d.topics[0] and await store.get("nope") is None
    # A save replaces every topic and drops event ids older than the retention (100 s).
    await store.save(d.topics[1:], {"later": 1_150.0}, 1_150.0)
    state = await store.load()
    assert set(state.topics) == {t.id for t in d.topics[1:]} and state.emitted == {"later"}


async def test_many_topics_and_ids_in_one_save(store: TopicStore) -> None:
    d = detect(corpus({"ts": 8}), {}, set(), 1_000.0)
    # The Redis script writes them in chunks.
    many = [t.model_copy(update={"id": f"tp-{i:04d}"}) for i in range(450) for t in d.topics[:1]]
    await store.save(many, {f"e{i}": 1_200.0 for i in range(700)}, 1_200.0)
    state = await store.load()
    assert len(state.topics) == 450 and len(state.emitted) == 700
    await store.save([], {}, 1_300.0)
    assert (await store.load()).topics == {}


async def test_the_sqlite_store_comes_back_with_the_same_state(tmp_path: Path) -> None:
    path = str(tmp_path / "topics.sqlite")
    first = SqliteTopicStore(path, emitted_retention_s=100.0)
    d = detect(corpus({"ts": 8, "proteins": 6, "robots": 5}), {}, set(), 1_000.0)
    await first.save(d.topics, {e.id: e.detected_at for e in d.events}, 1_000.0)
    before = await first.load()
    await first.close()
    again = SqliteTopicStore(path, emitted_retention_s=100.0)
    assert await again.load() == before and before.topics
    assert await again.get(d.topics[0].id) == d.topics[0]
    await again.save(d.topics[:1], {}, 1_050.0)  # and it goes on: a save replaces the whole stored state
    await again.close()
    third = SqliteTopicStore(path, emitted_retention_s=100.0)
    state = await third.load()
    assert set(state.topics) == {d.topics[0].id} and state.as_of == 1_050.0 and state.emitted == before.emitted
    await third.close()
