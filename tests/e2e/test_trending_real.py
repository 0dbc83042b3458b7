"""Trending on real Kafka + Redis: rebuild equals live, duplicates count once, and a scorer killed with
SIGKILL mid-stream ends with the same scores as a run without the kill."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess

import pytest

from paperwire_common.bus.port import Message
from paperwire_common.envelope import encode
from paperwire_common.events import Engagement
from paperwire_common.streams import ENGAGEMENT
from paperwire_trending.rebuild import compare, rebuild
from tests.conftest import SAMPLE, start_service

from .pipeline import pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.elasticsearch, pytest.mark.redis]
T0 = 1_767_225_600.0  # event times are fixed: scores depend on event time only


def events(paper_ids: list[str], n: int, seed: int = 1) -> list[Engagement]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = rng.choice(["view", "view", "view", "upvote", "download", "mention", "comment", "unvote"])
        out.append(
            Engagement(
                id=f"e{seed}-{i}",
                paper_id=rng.choice(paper_ids),
                type=kind,
                actor_id=f"u{rng.randrange(200)}",
                ts=T0 + i * 3.0,
            )
        )
    return out


def messages(evs: list[Engagement]) -> list[Message]:
    return [encode(ENGAGEMENT, e, key=e.paper_id, event_id=e.id, source="test", time=T0) for e in evs]


async def test_rebuild_equals_live_and_duplicates_count_once(
    kafka_bootstrap: str, es_url: str, redis_url: str, namespace: str
) -> None:
    async with pipeline("kafka", namespace, workers=("enricher", "indexer", "trending")) as p:
        await p.ingest(str(SAMPLE))
        await p.settle()
        ids = sorted(await p.backends.index.snapshot())[:40]
        evs = events(ids, 3000)
        await p.backends.bus.publish(messages(evs))
        await p.settle()
        store = p.backends.trends
        now = T0 + 3 * 3000
        before = await store.top("24h", None, 1000, now)
        assert len(before) > 40, "announced papers (freshness prior) and engaged ones are ranked"

        await p.backends.bus.publish(messages(evs[:500]))  # the same events again (same ids)
        await p.settle()
        after = await store.top("24h", None, 1000, now)
        assert after == before, "an event id counts once"

        out = await rebuild(p.backends, check=True)
        assert out["equal"], out["windows"]
        assert out["windows"]["24h"]["papers"] == len(before)


def start_scorer(namespace: str) -> subprocess.Popen[bytes]:
    return start_service("trending", namespace, batch_size=500)


@pytest.mark.slow
async def test_kill_9_scorer_mid_stream_gives_same_scores(
    kafka_bootstrap: str, es_url: str, redis_url: str, namespace: str
) -> None:
    async with pipeline("kafka", namespace, workers=("enricher", "indexer")) as p:
        await p.ingest(str(SAMPLE))
        await p.settle()
        ids = sorted(await p.backends.index.snapshot())
        await p.backends.bus.publish(messages(events(ids, 60_000, seed=2)))
        store = p.backends.trends

        proc = start_scorer(namespace)
        async with asyncio.timeout(120):
            while not (await store.offsets("paperwire-trending")):
                await asyncio.sleep(0.05)
        offs = await store.offsets("paperwire-trending")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        end = sum((await p.backends.bus.end_offsets(ENGAGEMENT.name)).values())
        assert sum(v for (t, _), v in offs.items() if t == ENGAGEMENT.name) < end, "killed mid-stream"

        proc = start_scorer(namespace)
        try:
            async with asyncio.timeout(240):
                while True:
                    done = await store.offsets("paperwire-trending")
                    if sum(v for (t, _), v in done.items() if t == ENGAGEMENT.name) >= end:
                        break
                    await asyncio.sleep(0.5)
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(30)
        assert code == 0, (proc.stderr.read() if proc.stderr else b"").decode()[-2000:]
        # A run without the kill: the same topics replayed into a fresh store.
        out = await rebuild(p.backends, check=True)
        assert out["equal"], out["windows"]
        assert (await compare(store, store, T0)).equal
