"""IntakeStore contract (paperwire_common/intake/port.py), run against every adapter: SQLite and Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from paperwire_common.intake import IntakeStore, SqliteIntakeStore, StarSnapshot

HOUR = 3600.0
RATE = 100 / HOUR  # 100 stars an hour


@pytest.fixture(params=["sqlite-memory", "sqlite-file", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[IntakeStore]:
    if request.param == "sqlite-memory":
        yield SqliteIntakeStore()
        return
    if request.param == "sqlite-file":
        yield SqliteIntakeStore(str(tmp_path / "intake.sqlite"))
        return
    from redis.asyncio import Redis

    from paperwire_common.intake.redis import RedisIntakeStore

    r = Redis.from_url(request.getfixturevalue("redis_url"))
    prefix = f"{request.getfixturevalue('namespace')}paperwire:intake"
    try:
        yield RedisIntakeStore(r, prefix=prefix)
    finally:
        keys = [k async for k in r.scan_iter(match=f"{prefix}:*")]
        if keys:
            await r.delete(*keys)
        await r.aclose()


async def test_the_first_claim_wins_until_it_expires(store: IntakeStore) -> None:
    now = time.time()
    assert await store.claim({"a": "1", "b": "2"}, 0.5, now) == {"a": "1", "b": "2"}
    assert await store.claim({"a": "9", "c": "3"}, 0.5, now) == {"a": "1", "c": "3"}, "a keeps its first value"
    await asyncio.sleep(0.7)
    assert await store.claim({"a": "9"}, 10, time.time()) == {"a": "9"}, "an expired claim is taken anew"
    assert await store.claim({}, 10, time.time()) == {}


async def test_many_claims_at_once(store: IntakeStore) -> None:
    now = time.time()
    entries = {f"k{i}": str(i) for i in range(1200)}
    assert await store.claim(entries, 60, now) == entries


async def test_star_snapshots_may_gain_at_most_the_rate(store: IntakeStore) -> None:
    t = 1_000_000.0
    # The first snapshot is the baseline, whatever its size; a drop or an equal count is always fine.
    assert await store.check_stars([StarSnapshot("p", 5000, t), StarSnapshot("p", 4000, t + 1)], RATE) == []
    # 2 hours later: +200 allowed, +201 not; a refused batch records nothing (not even its good snapshot).
    refused = await store.check_stars([StarSnapshot("q", 10, t), StarSnapshot("p", 5201, t + 2 * HOUR)], RATE)
    assert [(r.at, r.previous, r.previous_ts) for r in refused] == [(1, 5000, t)]
    assert refused[0].allowed == pytest.approx(200.0)
    assert await store.check_stars([StarSnapshot("q", 1_000_000, t)], RATE) == [], "q is still unknown"
    assert await store.check_stars([StarSnapshot("p", 5200, t + 2 * HOUR)], RATE) == []
    # The ledger moved to 5200 at t+2h: the same hour again allows nothing more; within a batch it moves too.
    assert len(await store.check_stars([StarSnapshot("p", 5201, t + 2 * HOUR)], RATE)) == 1
    batch = [StarSnapshot("p", 5250, t + 2.5 * HOUR), StarSnapshot("p", 5300, t + 2.6 * HOUR)]
    (r,) = await store.check_stars(batch, RATE)
    assert r.at == 1 and r.previous == 5250, "the second is measured from the first"
    assert await store.check_stars([StarSnapshot("p", 10**9, t + 10**7 * HOUR)], RATE) == []
