"""DeliveryStore contract: one suite, run against the SQLite store (embedded) and the Redis store (Kafka backend).

`open_store()` opens an adapter; a second call opens another one over the same data (a restarted process)."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from paperwire_common.deliveries import Attempt, Claim, Delivery, DeliveryStore
from paperwire_common.deliveries.redis import RedisDeliveryStore
from paperwire_common.deliveries.sqlite import SqliteDeliveryStore

T = 1_767_225_600.0
Factory = Callable[[], DeliveryStore]
BOTH = Claim({"webhook": 100, "email": 100})


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def open_store(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Factory]:
    if request.param == "sqlite":
        path = str(tmp_path / "notify.sqlite")
        yield lambda: SqliteDeliveryStore(sqlite3.connect(path, isolation_level=None, check_same_thread=False))
        return
    from redis.asyncio import Redis

    url = request.getfixturevalue("redis_url")
    prefix = f"test-{uuid.uuid4().hex[:8]}:notify:{{n}}"
    clients: list[Any] = []

    def open_redis() -> DeliveryStore:
        r = Redis.from_url(url)
        clients.append(r)
        return RedisDeliveryStore(r, prefix=prefix, retention_s=3600)

    yield open_redis
    keys = [k async for k in clients[0].scan_iter(match=prefix.replace("{", "[{]").replace("}", "[}]") + "*")]
    if keys:
        await clients[0].delete(*keys)
    for r in clients:
        await r.aclose()


def delivery(i: int, sub: str = "sub_a", channel: str = "webhook", due: float | None = None) -> Delivery:
    return Delivery(
        id=f"msg_{i}",
        subscription_id=sub,
        channel=channel,  # type: ignore[arg-type]
        event_type="topic.created",
        event_id=f"ev{i}",
        body=b'{"type":"topic.created","n":%d}' % i,
        created_at=T + i,
        recipient="a@example.org" if channel == "email" else None,
        next_attempt_at=due,
    )


def attempt(d: Delivery, n: int, outcome: str, at: float, nxt: float | None = None, code: int | None = 503) -> Attempt:
    return Attempt(d.id, d.subscription_id, d.event_type, n, at, outcome, 0.01, code, None, nxt)  # type: ignore[arg-type]


async def test_enqueue_is_idempotent_and_claim_leases(open_store: Factory) -> None:
    s = open_store()
    assert await s.enqueue([delivery(1), delivery(2)]) == 2
    assert await s.enqueue([delivery(1), delivery(3)]) == 1  # replayed event: msg_1 exists
    assert await s.pending() == 3
    got = await s.claim(T + 10, BOTH, lease_s=30)
    assert [d.id for d in got] == ["msg_1", "msg_2", "msg_3"]
    assert got[0].body == delivery(1).body and got[0].status == "pending" and got[0].attempts == 0
    # Leased: nobody else claims them until the lease ends, then they come back (a killed attempt).
    assert await open_store().claim(T + 20, BOTH, lease_s=30) == []
    again = await open_store().claim(T + 41, BOTH, lease_s=30)
    assert {d.id for d in again} == {"msg_1", "msg_2", "msg_3"}


async def test_claim_limits_channels_skips_busy_subscriptions_and_waits_for_due(open_store: Factory) -> None:
    s = open_store()
    await s.enqueue([delivery(1, "a"), delivery(2, "a"), delivery(3, "b"), delivery(4, "c", "email")])
    await s.enqueue([delivery(5, "d", due=T + 1000)])
    got = await s.claim(T + 10, Claim({"webhook": 1, "email": 5}, skip={"a"}), 3000)
    assert sorted(d.id for d in got) == ["msg_3", "msg_4"]
    got = await s.claim(T + 10, Claim({"webhook": 5}), 3000)
    assert sorted(d.id for d in got) == ["msg_1", "msg_2"]  # msg_5 is not due yet
    assert [d.id for d in await s.claim(T + 1000, Claim({"webhook": 5}), 30)] == ["msg_5"]


async def test_retry_deliver_and_exactly_once(open_store: Factory) -> None:
    s = open_store()
    d = delivery(1)
    await s.enqueue([d])
    (c,) = await s.claim(T + 1, BOTH, 30)
    assert await s.record(attempt(c, 1, "retry", T + 1, nxt=T + 6))
    assert await s.claim(T + 5, BOTH, 30) == []
    (c,) = await open_store().claim(T + 6, BOTH, 30)  # another process after a restart
    assert c.attempts == 1
    assert await s.record(attempt(c, 2, "delivered", T + 6, code=200))
    # Acknowledged: never claimed again, and a late duplicate record changes nothing.
    assert await s.claim(T + 10_000, BOTH, 30) == []
    assert not await s.record(attempt(c, 3, "delivered", T + 7, code=200))
    got = await s.get(d.id)
    assert got is not None and got.status == "delivered" and got.attempts == 2 and got.next_attempt_at is None
    assert await s.pending() == 0
    log = await open_store().attempts("sub_a")
    assert [(a.attempt, a.outcome, a.status_code) for a in log] == [(2, "delivered", 200), (1, "retry", 503)]
    assert log[1].next_attempt_at == T + 6
    assert await s.enqueue([d]) == 0  # delivered ids still deduplicate


async def test_dead_letter_keeps_reason(open_store: Factory) -> None:
    s = open_store()
    await s.enqueue([delivery(1), delivery(2)])
    (a, b) = await s.claim(T + 10, BOTH, 30)
    assert await s.record(attempt(a, 8, "dead", T + 2), reason="8 attempts failed; last: 503")
    assert await s.record(attempt(b, 1, "dead", T + 3, code=410), reason="410 Gone: endpoint disabled")
    dead = await open_store().dead_letters()
    assert [(x.id, x.reason) for x in dead] == [
        ("msg_2", "410 Gone: endpoint disabled"),
        ("msg_1", "8 attempts failed; last: 503"),
    ]
    assert all(x.status == "dead" for x in dead) and await s.pending() == 0


async def test_endpoint_failure_span(open_store: Factory) -> None:
    s = open_store()
    assert await s.endpoint_failed("a", T) == T
    assert await open_store().endpoint_failed("a", T + 50) == T  # since the first failure
    await s.endpoint_succeeded("a")
    assert await s.endpoint_failed("a", T + 60) == T + 60


async def test_concurrent_claims_never_hand_out_a_delivery_twice(open_store: Factory) -> None:
    s = open_store()
    await s.enqueue([delivery(i) for i in range(60)])
    stores = [open_store() for _ in range(4)]
    got = await asyncio.gather(*(x.claim(T + 100, Claim({"webhook": 20}), 30) for x in stores))
    ids = [d.id for batch in got for d in batch]
    assert len(ids) == len(set(ids)) == 60


async def test_claim_bounds_each_subscription_counting_what_is_in_flight(open_store: Factory) -> None:
    s = open_store()
    await s.enqueue([delivery(i, "slow") for i in range(10)] + [delivery(10 + i, "fast") for i in range(3)])
    got = await s.claim(T + 100, Claim({"webhook": 50}, per_subscription=4, busy={"slow": 3}), 3000)
    subs = [d.subscription_id for d in got]
    assert subs.count("slow") == 1 and subs.count("fast") == 3  # no head-of-line blocking behind "slow"
