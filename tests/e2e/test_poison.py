"""Poison events: dead-lettered with the reason and the original bytes; the consumer keeps going,
unless most of a batch is poison, where it halts loudly instead of dead-lettering everything."""

from __future__ import annotations

import asyncio

from paperwire_common.bus.port import Message
from paperwire_common.streams import PAPERS_ENRICHED
from tests.conftest import SAMPLE

from .pipeline import pipeline
from .test_pipeline import backend  # noqa: F401 - the backend fixture

POISON = [
    Message(PAPERS_ENRICHED.name, "arxiv:0000.00001", b"{not json", (("ce_id", b"poison-1"),)),
    Message(
        PAPERS_ENRICHED.name,
        "arxiv:0000.00002",
        b'{"schema_version": 1, "paper": {}}',
        (("ce_id", b"poison-2"),),
    ),
]


async def read_dlq(p: object, n: int) -> list[Message]:
    bus = p.backends.bus  # type: ignore[attr-defined]
    c = bus.consumer("dlq-reader", [PAPERS_ENRICHED.dlq])
    await c.start()
    out: list[Message] = []
    async with asyncio.timeout(30):
        while len(out) < n:
            out += await c.poll(10, 0.5)
    await c.stop()
    return out


async def test_poison_goes_to_dlq_and_indexer_keeps_going(backend: str, namespace: str) -> None:  # noqa: F811
    async with pipeline(backend, namespace) as p:
        await p.ingest(str(SAMPLE))
        await p.settle()
        await p.backends.bus.publish(POISON)
        await p.settle()
        dead = await read_dlq(p, 2)
        assert sorted(m.value for m in dead) == sorted(m.value for m in POISON), "original bytes kept"
        reasons = {m.header("ce_id"): m.header("dlq_reason") or "" for m in dead}
        assert "invalid papers.enriched.v1 message" in reasons["poison-1"]
        assert "paper" in reasons["poison-2"]
        assert all(m.header("dlq_topic") == PAPERS_ENRICHED.name for m in dead)
        assert await p.backends.index.count() == 247
        assert p.loops["indexer"].halted is None


async def test_mostly_poison_batch_halts_instead(backend: str, namespace: str) -> None:  # noqa: F811
    async with pipeline(backend, namespace, workers=("indexer",)) as p:
        junk = [Message(PAPERS_ENRICHED.name, f"k{i}", b"junk", (("ce_id", f"j{i}".encode()),)) for i in range(30)]
        await p.backends.bus.publish(junk)
        loop = p.loops["indexer"]
        async with asyncio.timeout(30):
            while loop.halted is None:
                await asyncio.sleep(0.1)
        assert "poison" in loop.halted
        # Nothing was dead-lettered or committed: after the fix, a restart sees the whole batch again.
        assert loop.stats.dead_lettered == 0
        assert await loop.consumer.lag() == 30
