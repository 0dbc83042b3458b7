"""One contract, every EventBus adapter: the embedded bus must behave like Kafka where services depend on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from paperwire_common.bus.embedded import EmbeddedBus
from paperwire_common.bus.port import Consumer, EventBus, Message, Record

TOPIC = "contract.events.v1"


@pytest.fixture(params=["embedded", pytest.param("kafka", marks=pytest.mark.kafka)])
async def bus(request: pytest.FixtureRequest, namespace: str) -> AsyncIterator[EventBus]:
    if request.param == "embedded":
        b: EventBus = EmbeddedBus()
    else:
        from paperwire_common.bus.kafka import KafkaBus

        b = KafkaBus(request.getfixturevalue("kafka_bootstrap"), namespace=namespace, send_timeout_s=20)
    await b.start()
    await b.ensure_topics([TOPIC], partitions=3)
    yield b
    await b.stop()


def msgs(n: int, keys: int = 3) -> list[Message]:
    return [Message(TOPIC, f"k{i % keys}", f"{i}".encode(), (("ce_id", f"e{i}".encode()),)) for i in range(n)]


async def drain(c: Consumer, n: int, timeout: float = 30.0) -> list[Record]:
    out: list[Record] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while len(out) < n and asyncio.get_running_loop().time() < deadline:
        out += await c.poll(n - len(out), 0.5)
    return out


def offsets_after(records: list[Record]) -> dict[tuple[str, int], int]:
    out: dict[tuple[str, int], int] = {}
    for r in records:
        out[(r.topic, r.partition)] = max(out.get((r.topic, r.partition), 0), r.offset + 1)
    return out


async def test_key_keeps_order_and_partition(bus: EventBus) -> None:
    await bus.publish(msgs(30))
    c = bus.consumer("g-order", [TOPIC])
    await c.start()
    got = await drain(c, 30)
    await c.stop()
    assert len(got) == 30
    by_key: dict[str, list[Record]] = {}
    for r in got:
        by_key.setdefault(r.key, []).append(r)
    for recs in by_key.values():
        assert len({r.partition for r in recs}) == 1, "one key, one partition"
        values = [int(r.value) for r in sorted(recs, key=lambda r: r.offset)]
        assert values == sorted(values), "a key's events stay in publish order"
    assert got[0].header("ce_id") is not None


async def test_group_resumes_after_committed_offset(bus: EventBus) -> None:
    await bus.publish(msgs(12, keys=1))  # one key: one partition, so offsets are a total order
    c = bus.consumer("g-resume", [TOPIC])
    await c.start()
    first = await drain(c, 12)
    await c.commit(offsets_after(first[:5]))
    await c.stop()
    c2 = bus.consumer("g-resume", [TOPIC])
    await c2.start()
    part = first[0].partition
    committed = await c2.committed_offsets([(TOPIC, part), (TOPIC, (part + 1) % 3)])
    assert committed == {(TOPIC, part): 5, (TOPIC, (part + 1) % 3): 0}
    rest = await drain(c2, 7)
    await c2.stop()
    assert [int(r.value) for r in rest] == list(range(5, 12))


async def test_rewind_redelivers_uncommitted(bus: EventBus) -> None:
    await bus.publish(msgs(6, keys=1))
    c = bus.consumer("g-rewind", [TOPIC])
    await c.start()
    batch = await drain(c, 6)
    await c.commit(offsets_after(batch[:2]))
    await c.rewind()  # as after a handler crash: everything not committed comes again
    again = await drain(c, 4)
    await c.stop()
    assert [int(r.value) for r in again] == [2, 3, 4, 5]


async def test_groups_are_independent(bus: EventBus) -> None:
    await bus.publish(msgs(9))
    results = []
    for g in ("g-a", "g-b"):
        c = bus.consumer(g, [TOPIC])
        await c.start()
        results.append(sorted(int(r.value) for r in await drain(c, 9)))
        await c.stop()
    assert results[0] == results[1] == list(range(9))


async def test_end_offsets_count_everything(bus: EventBus) -> None:
    await bus.publish(msgs(10))
    ends = await bus.end_offsets(TOPIC)
    assert sum(ends.values()) == 10
    assert len(ends) == 3


async def test_lag_is_what_is_not_committed(bus: EventBus) -> None:
    await bus.publish(msgs(8, keys=1))
    c = bus.consumer("g-lag", [TOPIC])
    await c.start()
    got = await drain(c, 8)
    await c.commit(offsets_after(got[:3]))
    lag = await c.lag()
    await c.stop()
    assert lag == 5


async def test_rewind_before_any_commit_redelivers_everything(bus: EventBus) -> None:
    """A new group's first batch fails: nothing is committed yet, and still nothing may be skipped."""
    await bus.publish(msgs(6, keys=1))
    c = bus.consumer("g-rewind-new", [TOPIC])
    await c.start()
    first = await drain(c, 6)
    await c.rewind()
    again = await drain(c, 6)
    await c.stop()
    assert [int(r.value) for r in again] == [int(r.value) for r in first] == list(range(6))


async def test_a_reader_follows_one_partition_from_any_position(bus: EventBus) -> None:
    await bus.publish(msgs(6, keys=1))  # one key: one partition, offsets 0..5
    part = next(p for p, end in (await bus.end_offsets(TOPIC)).items() if end == 6)

    async def read(offset: int | None, n: int) -> tuple[list[int], int]:
        r = bus.reader(TOPIC, part, offset)
        await r.start()
        start = r.position
        got: list[Record] = []
        deadline = asyncio.get_running_loop().time() + 30
        while len(got) < n and asyncio.get_running_loop().time() < deadline:
            got += await r.poll(n - len(got), 0.5)
        assert await r.poll(10, 0.2) == [] and r.position == start + len(got)
        await r.stop()
        assert all(x.partition == part and x.topic == TOPIC for x in got)
        return [x.offset for x in got], start

    assert await read(2, 4) == ([2, 3, 4, 5], 2)
    assert await read(-5, 6) == ([0, 1, 2, 3, 4, 5], 0), "before the start: from the oldest kept"
    assert await read(99, 0) == ([], 6), "past the end: the end"
    tail = bus.reader(TOPIC, part)
    await tail.start()
    assert tail.position == 6
    waiting = asyncio.create_task(tail.poll(5, 20))
    await asyncio.sleep(0.3)
    await bus.publish(msgs(2, keys=1))  # raised while it waits
    got = await waiting
    got += await tail.poll(5 - len(got), 2) if len(got) < 2 else []
    await tail.stop()
    assert [x.offset for x in got] == [6, 7] and [x.value for x in got] == [b"0", b"1"]
