"""The consumer loop on the embedded bus: commit after the sink, redelivery after a crash, DLQ, halt."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from paperwire_common.bus.embedded import EmbeddedBus, EmbeddedConsumer
from paperwire_common.bus.port import Message
from paperwire_common.consumer import ConsumerLoop, PoisonHalt
from paperwire_common.envelope import encode
from paperwire_common.events import PaperRaw
from paperwire_common.settings import ConsumerSettings
from paperwire_common.streams import PAPERS_RAW


def good(i: int) -> Message:
    p = PaperRaw(
        paper_id=f"title:{i}", version=1, content_hash=f"hash{i:06d}", title=f"Paper {i}", source="t", ingested_at=0
    )
    return encode(PAPERS_RAW, p, key=p.paper_id, event_id=f"e{i}", source="t", time=0)


def junk(i: int) -> Message:
    return Message(PAPERS_RAW.name, f"j{i}", b"junk", (("ce_id", f"j{i}".encode()),))


class Sink:
    def __init__(self, fail_times: int = 0) -> None:
        self.seen: list[str] = []
        self.fail_times = fail_times

    async def __call__(self, batch: list[Any]) -> list[Any]:
        if self.fail_times:
            self.fail_times -= 1
            raise RuntimeError("sink down")
        self.seen += [d.event_id for d in batch]
        return []


async def make(bus: EmbeddedBus, sink: Sink, **kw: Any) -> ConsumerLoop:
    await bus.ensure_topics([PAPERS_RAW.name, PAPERS_RAW.dlq])
    loop = ConsumerLoop(
        service="t",
        group="g",
        consumer=bus.consumer("g", [PAPERS_RAW.name]),
        producer=bus,
        handler=sink,
        settings=ConsumerSettings(**{"batch_size": 100, **kw}),
    )
    await loop.consumer.start()
    return loop


async def test_failed_batch_is_redelivered_then_committed() -> None:
    bus, sink = EmbeddedBus(), Sink(fail_times=1)
    await bus.publish([good(i) for i in range(5)])
    loop = await make(bus, sink)
    with pytest.raises(RuntimeError):
        await loop.run_once()
    assert bus.committed.get("g", {}) == {} and sink.seen == []
    assert await loop.run_once() == 5
    assert sorted(sink.seen) == [f"e{i}" for i in range(5)]
    assert await loop.consumer.lag() == 0


async def test_poison_is_dead_lettered_and_good_records_pass() -> None:
    bus, sink = EmbeddedBus(), Sink()
    await bus.publish([good(0), junk(1), good(2)])
    loop = await make(bus, sink)
    assert await loop.run_once() == 3
    assert sorted(sink.seen) == ["e0", "e2"]
    dlq = bus.records(PAPERS_RAW.dlq)
    assert [m.value for m in dlq] == [b"junk"] and "invalid" in (dlq[0].header("dlq_reason") or "")


async def test_mostly_poison_halts_without_commit() -> None:
    bus, sink = EmbeddedBus(), Sink()
    await bus.publish([junk(i) for i in range(8)] + [good(i) for i in range(4)])
    loop = await make(bus, sink, poison_max_ratio=0.5, poison_min_batch=10)
    with pytest.raises(PoisonHalt, match="8 of 12"):
        await loop.run_once()
    assert bus.committed.get("g", {}) == {} and bus.records(PAPERS_RAW.dlq) == [] and sink.seen == []


class SlowSink(Sink):
    """Fails its second batch once (while the third is being read ahead), and runs `during` inside a batch."""

    def __init__(self, during: Any = None) -> None:
        super().__init__()
        self.batches = 0
        self.during = during
        self.failed = False

    async def __call__(self, batch: list[Any]) -> list[Any]:
        self.batches += 1
        await asyncio.sleep(0)  # the read-ahead task runs here, as it would during a sink round trip
        if self.during is not None:
            await self.during()
            self.during = None
        if self.batches == 2 and not self.failed:
            self.failed = True
            raise RuntimeError("sink down")
        self.seen += [d.event_id for d in batch]
        return []


async def test_a_failed_batch_drops_the_read_ahead_and_nothing_is_lost() -> None:
    bus, sink = EmbeddedBus(default_partitions=1), SlowSink()
    await bus.publish([good(i) for i in range(350)])
    loop = await make(bus, sink)
    assert await loop.run_once() == 100  # batch 1; batch 2 was read ahead
    with pytest.raises(RuntimeError):
        await loop.run_once()  # batch 2 fails while batch 3 is read ahead: both must come again
    while await loop.run_once():
        pass
    assert sink.seen == [f"e{i}" for i in range(350)]  # in order, each once, none skipped
    assert bus.committed["g"] == {(PAPERS_RAW.name, 0): 350}


async def test_a_rebalance_drops_the_read_ahead_batch() -> None:
    bus = EmbeddedBus(default_partitions=2)
    await bus.publish([good(i) for i in range(800)])
    other = bus.consumer("g", [PAPERS_RAW.name])

    async def join() -> None:  # another member joins while batch 1 is in the sink: partitions move
        await other.start()

    sink = SlowSink(during=join)
    sink.failed = True  # no failure in this test
    loop = await make(bus, sink, batch_size=300)  # batch 1 spans both partitions, the read-ahead reads the second
    me = loop.consumer
    assert isinstance(me, EmbeddedConsumer)
    owned_before = set(me.assignment)
    await loop.run_once()
    owned = set(me.assignment)
    assert owned < owned_before  # the join took a partition away
    seen_before = len(sink.seen)
    while await loop.run_once():
        pass
    # After the rebalance this member only handled records of the partitions it still owns.
    later = sink.seen[seen_before:]
    assert later
    owned_keys = {r.key for r in bus.records(PAPERS_RAW.name) if (r.topic, r.partition) in owned}
    assert all(f"title:{e.removeprefix('e')}" in owned_keys for e in later)


def sample(name: str, **labels: str) -> float | None:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels)


async def test_gauges_tell_the_truth_while_the_sink_is_down() -> None:
    # Regression: the lag gauge was refreshed only after a successful batch, so while a sink was down (the time
    # the lag grows) it kept its last value, and the series of a loop appeared only with its first event.
    bus, sink = EmbeddedBus(), Sink(fail_times=10**6)
    await bus.ensure_topics([PAPERS_RAW.name, PAPERS_RAW.dlq])
    await bus.publish([good(i) for i in range(7)])
    observed: list[int] = []

    async def observe() -> None:
        observed.append(1)

    loop = ConsumerLoop(
        service="gauges",
        group="gg",
        consumer=bus.consumer("gg", [PAPERS_RAW.name]),
        producer=bus,
        handler=sink,
        settings=ConsumerSettings(batch_size=100, retry_backoff_s=0.01),
        observe=observe,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        async with asyncio.timeout(10):
            while sample("paperwire_consumer_lag", service="gauges", group="gg") != 7:
                await asyncio.sleep(0.01)
        assert loop.failing and "sink down" in loop.failing
        assert observed, "the service's own gauges are refreshed while batches fail"
        assert sample("paperwire_consumer_halted", service="gauges") == 0
        for name in ("paperwire_events_processed_total", "paperwire_events_dead_lettered_total"):
            assert sample(name, service="gauges", topic=PAPERS_RAW.name) == 0, name
        assert (sample("paperwire_events_failed_total", service="gauges", topic=PAPERS_RAW.name) or 0) >= 1
    finally:
        stop.set()
        await task
