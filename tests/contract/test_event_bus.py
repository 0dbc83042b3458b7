"""One contract, every EventBus adapter: the embedded bus (in memory, and durable on SQLite) must behave like Kafka
where services depend on it; the durable ones keep records and commits across a restart."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from paperwire_common.bus.embedded import EmbeddedBus
from paperwire_common.bus.port import Consumer, EventBus, Message, Record
from tests.conftest import ROOT

TOPIC = "contract.events.v1"
KAFKA = pytest.param("kafka", marks=pytest.mark.kafka)
Opener = Callable[[], EventBus]


def opener(kind: str, request: pytest.FixtureRequest, namespace: str, tmp_path: Path) -> Opener:
    """A function that opens a new adapter instance; for the durable kinds, over the same data (a restart)."""
    if kind == "memory":
        return EmbeddedBus
    if kind == "sqlite":
        return lambda: EmbeddedBus(path=str(tmp_path / "bus.sqlite"))
    from paperwire_common.bus.kafka import KafkaBus

    bootstrap = request.getfixturevalue("kafka_bootstrap")
    return lambda: KafkaBus(bootstrap, namespace=namespace, send_timeout_s=20)


@pytest.fixture(params=["memory", "sqlite", KAFKA])
async def bus(request: pytest.FixtureRequest, namespace: str, tmp_path: Path) -> AsyncIterator[EventBus]:
    b = opener(request.param, request, namespace, tmp_path)()
    await b.start()
    await b.ensure_topics([TOPIC], partitions=3)
    yield b
    await b.stop()


@pytest.fixture(params=["sqlite", KAFKA])
def durable(request: pytest.FixtureRequest, namespace: str, tmp_path: Path) -> tuple[str, Opener]:
    return request.param, opener(request.param, request, namespace, tmp_path)


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


async def test_seek_moves_back_and_commits_there(bus: EventBus) -> None:
    """A sink that lost its newest writes (restored from an older snapshot) resumes the group where it stands."""
    await bus.publish(msgs(10, keys=1))
    c = bus.consumer("g-seek", [TOPIC])
    await c.start()
    first = await drain(c, 10)
    part = first[0].partition
    await c.commit(offsets_after(first))
    await c.seek({(TOPIC, part): 4})
    again = await drain(c, 6)
    assert [int(r.value) for r in again] == list(range(4, 10))
    assert (await c.committed_offsets([(TOPIC, part)]))[(TOPIC, part)] == 4
    await c.rewind()  # a failed batch after the seek comes back to the seek, not to the old commit
    assert [int(r.value) for r in await drain(c, 6)] == list(range(4, 10))
    await c.stop()


async def test_records_and_commits_survive_a_restart(durable: tuple[str, Opener]) -> None:
    _, open_bus = durable
    b = open_bus()
    await b.start()
    await b.ensure_topics([TOPIC], partitions=3)
    await b.publish(msgs(12, keys=1))
    await b.publish(msgs(4, keys=4))
    c = b.consumer("g-restart", [TOPIC])
    await c.start()
    got = await drain(c, 16)
    one = [r for r in got if r.key == "k0"]
    await c.commit(offsets_after(one[:7]))
    ends = await b.end_offsets(TOPIC)
    await c.stop()
    await b.stop()

    b2 = open_bus()
    await b2.start()
    try:
        assert await b2.end_offsets(TOPIC) == ends
        c2 = b2.consumer("g-restart", [TOPIC])
        await c2.start()
        assert (await c2.committed_offsets([(TOPIC, one[0].partition)]))[(TOPIC, one[0].partition)] == 7
        rest = await drain(c2, 16 - 7)
        assert sorted((r.partition, r.offset) for r in rest) == sorted(
            (r.partition, r.offset)
            for r in got
            if (r.partition, r.offset) not in {(x.partition, x.offset) for x in one[:7]}
        )
        assert {r.value for r in rest} | {r.value for r in one[:7]} == {r.value for r in got}
        assert all(r.header("ce_id") for r in rest), "headers survive"
        await c2.stop()
        # the log goes on where it stopped: new offsets follow the old ones
        await b2.publish(msgs(1, keys=1))
        assert sum((await b2.end_offsets(TOPIC)).values()) == sum(ends.values()) + 1
    finally:
        await b2.stop()


_PUBLISH_THEN_HANG = textwrap.dedent(
    """
    import asyncio, sys, time
    from tests.contract.test_event_bus import TOPIC, msgs, opener_from_env

    async def main():
        b = opener_from_env()()
        await b.start()
        await b.ensure_topics([TOPIC], partitions=3)
        for i in range(5):
            await b.publish(msgs(40))
        print("published", flush=True)
        time.sleep(600)  # killed here, bus still open: no clean close, no checkpoint

    asyncio.run(main())
    """
)


def opener_from_env() -> Opener:
    kind = os.environ["BUS_KIND"]
    if kind == "sqlite":
        return lambda: EmbeddedBus(path=os.environ["BUS_PATH"])
    from paperwire_common.bus.kafka import KafkaBus

    return lambda: KafkaBus(os.environ["BUS_BOOTSTRAP"], namespace=os.environ["BUS_NS"], send_timeout_s=20)


async def test_a_publish_that_returned_survives_kill_9(
    durable: tuple[str, Opener], namespace: str, tmp_path: Path
) -> None:
    kind, open_bus = durable
    env = {**os.environ, "BUS_KIND": kind, "BUS_PATH": str(tmp_path / "bus.sqlite"), "BUS_NS": namespace}
    if kind == "kafka":
        from tests.conftest import KAFKA as bootstrap

        env["BUS_BOOTSTRAP"] = bootstrap
    proc = subprocess.Popen(
        [sys.executable, "-c", _PUBLISH_THEN_HANG], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        out = proc.stdout

        def published() -> bool:  # the adapter may log on stdout too
            return any(line.strip() == b"published" for line in iter(out.readline, b""))

        assert await asyncio.wait_for(asyncio.to_thread(published), 60), "the publisher exited early"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    b = open_bus()
    await b.start()
    try:
        assert sum((await b.end_offsets(TOPIC)).values()) == 200
        c = b.consumer("g-after-kill", [TOPIC])
        await c.start()
        got = await drain(c, 200)
        await c.stop()
        assert sorted(int(r.value) for r in got) == sorted(list(range(40)) * 5)
    finally:
        await b.stop()


async def test_seek_before_the_first_poll_applies_once_partitions_are_assigned(bus: EventBus) -> None:
    """How trending resumes at start: the seek comes before Kafka has assigned anything to the new member."""
    await bus.publish(msgs(10, keys=1))
    c = bus.consumer("g-seek-early", [TOPIC])
    await c.start()
    first = await drain(c, 10)
    await c.commit(offsets_after(first))
    await c.stop()
    part = first[0].partition
    again = bus.consumer("g-seek-early", [TOPIC])
    await again.start()
    await again.seek({(TOPIC, part): 3})
    got = await drain(again, 7)
    assert [int(r.value) for r in got] == list(range(3, 10))
    assert (await again.committed_offsets([(TOPIC, part)]))[(TOPIC, part)] == 3
    await again.stop()


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
