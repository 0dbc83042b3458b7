"""The scripted stream of issue 10, on both backends: the sample corpus without its time-series papers goes through
the real pipeline and is clustered; subscribers sign up; the time-series papers arrive and the next re-clustering
announces the new topic on topics.v1 -> each topic.created subscriber receives exactly one webhook for it (verified
by `standardwebhooks`) with a readable label, and a subscriber filtered to another topic receives nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from paperwire_common.clock import SystemClock
from paperwire_trending.topic_job import recluster
from paperwire_trending.topic_store import default_topic_store
from tests.notify_kit import Receivers, eventually

from .notify_rig import backend_settings, notify_rig
from .pipeline import pipeline
from .test_emerging_topics import TIME_SERIES, split_seed

BACKENDS = ["embedded", pytest.param("kafka", marks=[pytest.mark.kafka, pytest.mark.elasticsearch, pytest.mark.redis])]


@pytest.fixture(params=BACKENDS)
def common(request: pytest.FixtureRequest) -> dict[str, Any]:
    return backend_settings(request.param, request)


@pytest.mark.timeout(900)
async def test_new_topic_reaches_each_subscriber_once(
    common: dict[str, Any], receivers: Receivers, tmp_path: Path
) -> None:
    before, after, _ = split_seed(tmp_path)
    backend, namespace = common.pop("backend"), common.pop("namespace", "")
    clock = SystemClock()
    async with pipeline(backend, namespace, workers=("enricher", "indexer"), embeddings=True, **common) as p:
        store = default_topic_store(p.backends)
        try:
            await p.ingest(str(before))
            await p.settle(timeout_s=600)
            baseline = await recluster(p.backends, store, clock)
            assert baseline  # the corpus' own topics: announced before anyone subscribed
            other = baseline[0].topic_id
            async with notify_rig({}, backends=p.backends) as rig:
                subscribers = [receivers.add() for _ in range(3)]
                for r in subscribers:
                    r.secret = (await rig.webhook(r.url))[1]
                filtered = receivers.add()
                filtered.secret = (await rig.webhook(filtered.url, topics=(other,)))[1]
                await asyncio.sleep(0.5)  # the baseline events on topics.v1 are behind us (and older)

                await p.ingest(str(after))
                await p.settle(timeout_s=600)
                second = await recluster(p.backends, store, clock)
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
