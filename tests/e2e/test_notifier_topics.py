"""The scripted stream of issue 10, on both backends: the sample corpus without its time-series papers is indexed
and clustered; subscribers sign up through the API; the time-series papers arrive and the next re-clustering
announces the new topic on topics.v1 -> each topic.created subscriber receives exactly one webhook for it (verified
by `standardwebhooks`) with a readable label, and a subscriber filtered to another topic receives nothing.

The corpus is embedded once for the module (the enricher with its model, on the embedded bus) and its
papers.enriched.v1 records are replayed into each backend's pipeline, which then runs from the indexer on: the
enricher is not what this test is about, and embedding the corpus is most of its cost.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from paperwire_common.bus.port import Message
from paperwire_common.clock import SystemClock
from paperwire_common.events import PaperEnriched
from paperwire_common.streams import PAPERS_ENRICHED
from paperwire_trending.topic_job import recluster
from tests.conftest import free_port, mint_key
from tests.notify_kit import Receivers, eventually

from .notify_rig import backend_settings, notify_rig, served
from .pipeline import pipeline
from .test_emerging_topics import TIME_SERIES, split_seed

BACKENDS = ["embedded", pytest.param("kafka", marks=[pytest.mark.kafka, pytest.mark.elasticsearch, pytest.mark.redis])]
Enriched = tuple[list[Message], list[Message]]  # (the corpus without time series, the time-series papers)


async def _enrich(before: Path, after: Path) -> Enriched:
    async with pipeline("embedded", workers=("enricher",), embeddings=True) as p:
        for part in (before, after):
            await p.ingest(str(part))
            await p.settle(timeout_s=600)
        bus = p.backends.bus
        want = sum((await bus.end_offsets(PAPERS_ENRICHED.name)).values())
        consumer = bus.consumer("test-enriched-copy", [PAPERS_ENRICHED.name], from_beginning=True)
        await consumer.start()
        records: list[Message] = []
        while len(records) < want:
            records += [Message(r.topic, r.key, r.value, r.headers) for r in await consumer.poll(1000, 1.0)]
        await consumer.stop()
    held = [TIME_SERIES.search(PaperEnriched.model_validate_json(m.value).paper.title) for m in records]
    return [m for m, h in zip(records, held, strict=True) if not h], [
        m for m, h in zip(records, held, strict=True) if h
    ]


@pytest.fixture(scope="module")
def enriched(tmp_path_factory: pytest.TempPathFactory) -> Enriched:
    before, after, _ = split_seed(tmp_path_factory.mktemp("corpus"))
    return asyncio.run(_enrich(before, after))


@pytest.fixture(params=BACKENDS)
def common(request: pytest.FixtureRequest) -> dict[str, Any]:
    return backend_settings(request.param, request)


@pytest.mark.timeout(600)
async def test_new_topic_reaches_each_subscriber_once(
    common: dict[str, Any], enriched: Enriched, receivers: Receivers
) -> None:
    before, after = enriched
    assert len(before) > 200 and 8 <= len(after) < 20
    backend, namespace = common.pop("backend"), common.pop("namespace", "")
    clock, port = SystemClock(), free_port()
    async with pipeline(backend, namespace, workers=("indexer",), **common) as p:
        try:
            await p.backends.bus.publish(before)
            await p.settle(timeout_s=300)
            baseline = await recluster(p.backends, p.backends.topics, clock)
            assert baseline  # the corpus' own topics: announced before anyone subscribed
            other = baseline[0].topic_id
            loopback: dict[str, Any] = {"allow_http": True, "allow_networks": "127.0.0.0/8"}
            async with (
                notify_rig({}, backends=p.backends),
                served(p.backends, port, **loopback),
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c,
            ):
                key = await mint_key(c, "subscriptions:write")

                async def subscribe(**filters: Any) -> Any:
                    r = receivers.add()
                    body = {"channel": "webhook", "url": r.url, "events": ["topic.created"], **filters}
                    got = await c.post("/v1/subscriptions", json=body, headers=key)
                    assert got.status_code == 201, got.text
                    r.secret = got.json()["secret"]
                    return r

                subscribers = [await subscribe() for _ in range(3)]
                filtered = await subscribe(topics=[other])
                await asyncio.sleep(0.5)  # the baseline events on topics.v1 are behind us (and older)

                await p.backends.bus.publish(after)
                await p.settle(timeout_s=300)
                second = await recluster(p.backends, p.backends.topics, clock)
                assert [e.kind for e in second] == ["topic.created"]
                for r in subscribers:
                    await eventually(r.ok, timeout_s=60)
                await asyncio.sleep(1.0)
                for r in subscribers:
                    assert len(r.requests) == 1 and not r.rejected
                    body = r.requests[0].payload
                    assert body["type"] == "topic.created" and body["data"]["topic_id"] == second[0].topic_id
                    label = body["data"]["label"]
                    assert TIME_SERIES.search(label) or "forecasting" in label, label
                assert filtered.requests == [] and not filtered.rejected
                assert len({r.requests[0].headers["webhook-id"] for r in subscribers}) == 3  # one per subscription
        finally:
            if p.backends.redis is not None:
                await p.backends.redis.delete(*(f"{namespace}paperwire:topics{s}" for s in ("", ":emitted", ":meta")))
