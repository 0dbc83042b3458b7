"""Emerging topics end to end, the scripted stream: the seed corpus without its time-series papers goes through
the real pipeline (with embeddings) and is clustered; then the time-series papers arrive and the next
re-clustering announces exactly one new topic on topics.v1 -- time series forecasting -- and a third run
announces nothing.

The held-out papers are those whose title says "time series" / "time-series" (10 of the 247). Titles with
"forecast" alone are NOT held out: they are about other things (forecasting world events with LLMs, weather
forecasting, ...) and form topics of their own, so holding them back too would rightly announce those as well.
All papers arrive within seconds, so no topic has the history a burst needs: no topic.trending here (the burst
statistics are unit-tested in tests/unit/trending/test_bursts.py and test_detection.py). Along the way the topics
reach the papers: papers.topics.v1 gives every member its topic in the index and in the per-topic trending
rankings, and replaying those assignments in another order changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from paperwire_common.bus.port import EventBus
from paperwire_common.clock import SystemClock
from paperwire_common.envelope import decode
from paperwire_common.events import TopicEvent
from paperwire_common.streams import PAPER_TOPICS, TOPIC_EVENTS, StreamSpec
from paperwire_common.topics import TopicStore
from paperwire_common.topics.service import TopicReadService
from paperwire_gateway.app import create_app
from paperwire_indexer.handlers import latest_assignments
from paperwire_trending.detection import CREATED
from paperwire_trending.topic_job import recluster
from tests.conftest import SAMPLE, TEST_MASTER_KEY

from .pipeline import Pipeline, pipeline

BACKENDS = [
    "embedded",
    pytest.param("kafka", marks=[pytest.mark.kafka, pytest.mark.elasticsearch, pytest.mark.redis]),
]
TIME_SERIES = re.compile(r"time[ -]series", re.IGNORECASE)


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "kafka":
        return {
            "backend": "kafka",
            "kafka_bootstrap": request.getfixturevalue("kafka_bootstrap"),
            "elasticsearch_url": request.getfixturevalue("es_url"),
            "redis_url": request.getfixturevalue("redis_url"),
        }
    return {"backend": "embedded"}


def split_seed(tmp_path: Path) -> tuple[Path, Path, int]:
    lines = [ln for ln in SAMPLE.read_text().splitlines() if ln.strip()]
    held = [ln for ln in lines if TIME_SERIES.search(json.loads(ln)["title"])]
    rest = [ln for ln in lines if ln not in held]
    before, after = tmp_path / "without_time_series.jsonl", tmp_path / "time_series.jsonl"
    before.write_text("\n".join(rest) + "\n")
    after.write_text("\n".join(held) + "\n")
    return before, after, len(held)


async def read_stream(bus: EventBus, spec: StreamSpec) -> list[Any]:
    """Everything on a stream, read back from the bus by a fresh consumer group."""
    want = sum((await bus.end_offsets(spec.name)).values())
    consumer = bus.consumer(f"test-topics-{uuid.uuid4().hex[:8]}", [spec.name], from_beginning=True)
    await consumer.start()
    out: list[Any] = []
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while len(out) < want and asyncio.get_running_loop().time() < deadline:
            for rec in await consumer.poll(500, 1.0):
                d = decode(spec, rec)
                assert isinstance(d.event, spec.schema) and d.event_id == getattr(d.event, "id", None)
                out.append(d.event)
    finally:
        await consumer.stop()
    return sorted(out, key=lambda e: e.assigned_at) if spec is PAPER_TOPICS else out


async def read_topic_events(bus: EventBus) -> list[TopicEvent]:
    return await read_stream(bus, TOPIC_EVENTS)


async def check_papers_carry_their_topics(p: Pipeline, store: TopicStore) -> None:
    """Every member of every topic carries its id and label in the index and ranks in its trending ranking; and
    replaying every assignment in reverse order changes nothing."""
    state = await store.load()
    trends = p.backends.trends
    now = SystemClock().now()
    for t in state.topics.values():
        for pid in t.members:
            doc = await p.backends.index.get(pid) or {}
            assert doc.get("topics") == [t.id] and doc.get("topic_labels") == [t.label], (pid, doc.get("topics"))
        ranked = {pid for pid, _ in await trends.top("30d", t.id, 1000, now)}
        assert ranked == set(t.members), t.label
    before = await p.backends.index.snapshot()
    topics_before = {pid: (await p.backends.index.get(pid) or {}).get("topics") for pid in before}
    assigned = await read_stream(p.backends.bus, PAPER_TOPICS)
    assert {a.paper_id for a in assigned} >= {m for t in state.topics.values() for m in t.members}
    for a in reversed(assigned):
        await p.backends.index.set_topics(latest_assignments([a]))
    await p.backends.index.refresh()
    assert {pid: (await p.backends.index.get(pid) or {}).get("topics") for pid in before} == topics_before


@pytest.mark.timeout(900)
async def test_time_series_papers_emerge_as_exactly_one_new_topic(
    settings: dict[str, Any], namespace: str, tmp_path: Path
) -> None:
    before, after, n_held = split_seed(tmp_path)
    assert n_held >= 8
    backend = settings.pop("backend")
    clock = SystemClock()
    workers = ("enricher", "indexer", "trending")
    async with pipeline(backend, namespace, workers, embeddings=True, **settings) as p:
        store = p.backends.topics  # built by make_backends: the gateway reads this very store
        try:
            await p.ingest(str(before))
            await p.settle(timeout_s=600)

            # Baseline: the corpus without time series. Its topics are announced now (that is fine).
            first = await recluster(p.backends, store, clock)
            state1 = await store.load()
            assert len(state1.topics) >= 8
            assert [e.kind for e in first] == [CREATED] * len(state1.topics)
            assert not any(TIME_SERIES.search(r.label) for r in state1.topics.values())
            print("\nbaseline topics:")
            for r in sorted(state1.topics.values(), key=lambda r: -r.size):
                print(f"  {r.size:3d}  {r.label}")

            # The time-series papers arrive.
            await p.ingest(str(after))
            await p.settle(timeout_s=600)
            second = await recluster(p.backends, store, clock)
            assert [e.kind for e in second] == [CREATED], [(e.kind, e.label) for e in second]
            (ev,) = second
            print(f"emerged: {ev.label!r} ({len(ev.paper_ids)} papers)")
            assert "time series" in ev.label or "forecasting" in ev.label
            titles = [(await p.backends.index.get(pid) or {}).get("title", "") for pid in ev.paper_ids]
            assert len(titles) >= 5 and all(TIME_SERIES.search(t) for t in titles), titles
            state2 = await store.load()
            assert set(state1.topics) < set(state2.topics)  # every earlier topic kept its id
            assert ev.id in state2.emitted and ev.topic_id in state2.topics

            await p.settle(timeout_s=600)  # the assignments reach the index and the trend store
            await check_papers_carry_their_topics(p, store)

            # Nothing changed: nothing announced.
            assert await recluster(p.backends, store, clock) == []

            # On the bus: the baseline's topics once each, then the one new topic -- nothing twice.
            on_bus = await read_topic_events(p.backends.bus)
            assert [e.id for e in on_bus] == [e.id for e in first] + [ev.id]
            assert len({e.topic_id for e in on_bus}) == len(on_bus)

            # The gateway's view: the read service, and the API on the same backends.
            listed = await TopicReadService(store, p.backends.index).list_topics(size=100)
            assert ev.topic_id in [t["id"] for t in listed] and len(listed) == len(state2.topics)
            app = create_app(p.backends, master_key=TEST_MASTER_KEY)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
                assert (await c.get("/v1/topics", params={"size": 100})).json() == listed
                got = await c.get(f"/v1/topics/{ev.topic_id}")
            assert got.status_code == 200, got.text
            detail = got.json()
            assert detail["label"] == ev.label
            assert {x["id"] for x in detail["papers"]} == set(state2.topics[ev.topic_id].members)
            assert all(TIME_SERIES.search(x["title"]) for x in detail["papers"])
        finally:
            await p.backends.trends.reset()
            if p.backends.redis is not None:
                await p.backends.redis.delete(*(f"{namespace}paperwire:topics{s}" for s in ("", ":emitted", ":meta")))
