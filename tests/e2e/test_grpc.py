"""The gRPC API with the generated Python stubs: every method of paperwire.v1.Papers, errors as status codes that
never leak an exception, health that follows readiness, and WatchTopicEvents delivering topic events raised while
the stream is open and resuming from a position (embedded backends; the Kafka backend's stream at the end;
tests/e2e/test_grpcurl.py drives the same server with grpcurl)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from paperwire.v1 import papers_pb2, papers_pb2_grpc, topics_pb2
from paperwire_common.clock import SystemClock
from paperwire_common.envelope import encode
from paperwire_common.events import TopicEvent
from paperwire_common.streams import TOPIC_EVENTS
from paperwire_gateway.app import create_app
from paperwire_gateway.deps import GatewayContext
from paperwire_gateway.grpc import serve_grpc
from paperwire_gateway.settings import GatewaySettings
from paperwire_trending.topic_job import recluster
from tests.conftest import MASTER_AUTH, SAMPLE, TEST_MASTER_KEY, free_port
from tests.unit.search.test_search_service import BagOfWords

from .pipeline import Pipeline, pipeline

pytestmark = pytest.mark.asyncio(loop_scope="module")


@asynccontextmanager
async def grpc_server(ctx: GatewayContext) -> AsyncIterator[str]:
    """serve_grpc on a free loopback port, until the block ends."""
    port, stop = free_port(), asyncio.Event()
    task = asyncio.create_task(serve_grpc(ctx, "127.0.0.1", port, stop))
    target = f"127.0.0.1:{port}"
    async with grpc.aio.insecure_channel(target) as ch:
        await asyncio.wait_for(ch.channel_ready(), 10)
    try:
        yield target
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


@dataclass
class Served:
    p: Pipeline
    ctx: GatewayContext
    target: str
    ready: dict[str, bool]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served() -> AsyncIterator[Served]:
    async with pipeline("embedded", workers=("enricher", "indexer", "trending")) as p:
        await p.ingest(str(SAMPLE))
        await p.settle()
        ids = sorted(await p.backends.index.snapshot())
        docs = {i: d for i, d in zip(ids, [await p.backends.index.get(i) for i in ids], strict=True) if d}
        vecs = BagOfWords().encode([f"{d.get('title', '')}. {d.get('abstract', '')}" for d in docs.values()])
        await p.backends.index.upsert(
            [
                {**d, "version": d["version"] + 1, "embedding": [float(x) for x in v]}
                for d, v in zip(docs.values(), vecs, strict=True)
            ]
        )
        await recluster(p.backends, p.backends.topics, SystemClock())
        ready = {"pipeline": True}
        app = create_app(
            p.backends, GatewaySettings(grpc_max_watchers=3), readiness=lambda: dict(ready), encoder=BagOfWords()
        )
        async with grpc_server(app.state.ctx) as target:
            yield Served(p, app.state.ctx, target, ready)


@pytest_asyncio.fixture(loop_scope="module")
async def stub(served: Served) -> AsyncIterator[Any]:
    async with grpc.aio.insecure_channel(served.target) as ch:
        yield papers_pb2_grpc.PapersStub(ch)


async def status_of(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await call
    return e.value.code(), e.value.details() or ""


async def test_unary_reads_answer_what_rest_answers(stub: Any, served: Served) -> None:
    ids = sorted(await served.p.backends.index.snapshot())
    page = await stub.Search(papers_pb2.SearchRequest(q="language models", mode="keyword", size=3))
    assert page.mode == "keyword" and len(page.items) == 3 and page.total >= 3 and page.next_cursor
    assert page.total_relation == "eq" and not page.timed_out and page.degraded == ""
    more = await stub.Search(
        papers_pb2.SearchRequest(q="language models", mode="keyword", size=3, cursor=page.next_cursor)
    )
    assert not {h.paper.id for h in more.items} & {h.paper.id for h in page.items}
    paper = await stub.GetPaper(papers_pb2.GetPaperRequest(id=ids[0]))
    assert paper.id == ids[0] and paper.title and paper.version >= 1 and paper.ingested_at > 0
    near = await stub.Similar(papers_pb2.SimilarRequest(id=ids[0], size=4))
    assert near.paper_id == ids[0] and len(near.items) == 4 and ids[0] not in {h.paper.id for h in near.items}

    evs = [{"paper_id": ids[9], "type": "upvote", "actor_id": f"g{i}", "ts": time.time()} for i in range(5)]
    app = create_app(served.p.backends, master_key=TEST_MASTER_KEY)
    import httpx

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.post("/v1/events", json=evs, headers=MASTER_AUTH)).status_code == 202
        await served.p.settle()
        rest = (await c.get("/v1/feeds/trending", params={"size": 5})).json()
        latest = (await c.get("/v1/feeds/latest", params={"size": 4})).json()
    trending = await stub.Trending(papers_pb2.TrendingRequest(size=5))
    assert trending.window == "24h" and [i.paper.id for i in trending.items] == [i["id"] for i in rest["items"]]
    assert trending.items[0].paper.id == ids[9] and trending.items[0].rank == 1 and trending.items[0].score > 0
    got = await stub.Latest(papers_pb2.LatestRequest(size=4))
    assert [x.id for x in got.items] == [i["id"] for i in latest["items"]]

    topics = await stub.ListTopics(topics_pb2.ListTopicsRequest(sort="size"))
    assert topics.topics and [t.size for t in topics.topics] == sorted((t.size for t in topics.topics), reverse=True)
    one = await stub.GetTopic(topics_pb2.GetTopicRequest(id=topics.topics[0].id, papers=2))
    assert one.label == topics.topics[0].label and len(one.papers) == 2 and one.trend.recent >= 0


@pytest.mark.parametrize(
    ("method", "request_", "code", "says"),
    [
        ("Search", papers_pb2.SearchRequest(q="x", mode="fuzzy"), "INVALID_ARGUMENT", "mode must be one of"),
        ("Search", papers_pb2.SearchRequest(q="a\x00b"), "INVALID_ARGUMENT", "NUL"),
        ("Search", papers_pb2.SearchRequest(q='"unclosed'), "INVALID_ARGUMENT", ""),
        ("Search", papers_pb2.SearchRequest(q="x", cursor="x.\u00e9"), "INVALID_ARGUMENT", ""),
        ("Search", papers_pb2.SearchRequest(q="x", size=1000), "INVALID_ARGUMENT", "size must be 1..100"),
        ("Search", papers_pb2.SearchRequest(q="x" * 1001), "INVALID_ARGUMENT", "longer than 1000"),
        ("GetPaper", papers_pb2.GetPaperRequest(id="nope"), "NOT_FOUND", "no paper with id 'nope'"),
        ("GetPaper", papers_pb2.GetPaperRequest(), "INVALID_ARGUMENT", "id is required"),
        ("Similar", papers_pb2.SimilarRequest(id="nope"), "NOT_FOUND", "no paper with id 'nope'"),
        ("Trending", papers_pb2.TrendingRequest(window="1y"), "INVALID_ARGUMENT", "window must be one of"),
        ("ListTopics", topics_pb2.ListTopicsRequest(sort="random"), "INVALID_ARGUMENT", "sort must be one of"),
        ("GetTopic", topics_pb2.GetTopicRequest(id="tp-nope"), "NOT_FOUND", "no topic with id 'tp-nope'"),
        ("GetTopic", topics_pb2.GetTopicRequest(id="t", papers=5000), "INVALID_ARGUMENT", "papers must be 1..1000"),
    ],
)
async def test_bad_requests_get_their_status_code(stub: Any, method: str, request_: Any, code: str, says: str) -> None:
    got, details = await status_of(getattr(stub, method)(request_))
    assert got == getattr(grpc.StatusCode, code) and says in details, details


async def test_failures_never_leak_the_exception(stub: Any, served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*a: Any, **k: Any) -> Any:
        raise sqlite3.OperationalError("secret table layout")

    async def down(*a: Any, **k: Any) -> Any:
        raise ConnectionRefusedError("10.0.0.7:9200 refused")

    monkeypatch.setattr(served.ctx.index, "get", broken)
    code, details = await status_of(stub.GetPaper(papers_pb2.GetPaperRequest(id="x")))
    assert code == grpc.StatusCode.INTERNAL and details == "the server failed; the error was logged"
    monkeypatch.setattr(served.ctx.index, "get", down)
    code, details = await status_of(stub.GetPaper(papers_pb2.GetPaperRequest(id="x")))
    assert code == grpc.StatusCode.UNAVAILABLE and "10.0.0.7" not in details and "Refused" not in details
    served.ctx.search.encoder = None  # no embedding model: semantic search is unavailable, and says why
    code, details = await status_of(stub.Search(papers_pb2.SearchRequest(q="graphs", mode="semantic")))
    assert code == grpc.StatusCode.UNAVAILABLE and "embedding" in details
    served.ctx.search.encoder = BagOfWords()


async def test_health_follows_readiness(served: Served) -> None:
    async with grpc.aio.insecure_channel(served.target) as ch:
        health = health_pb2_grpc.HealthStub(ch)
        serving = health_pb2.HealthCheckResponse.SERVING
        for name in ("", "paperwire.v1.Papers"):
            assert (await health.Check(health_pb2.HealthCheckRequest(service=name))).status == serving
        served.ready["pipeline"] = False
        got = await health.Check(health_pb2.HealthCheckRequest(service="paperwire.v1.Papers"))
        assert got.status == health_pb2.HealthCheckResponse.NOT_SERVING
        watch = health.Watch(health_pb2.HealthCheckRequest())
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
        served.ready["pipeline"] = True
        assert (await asyncio.wait_for(watch.read(), 5)).status == serving, "Watch sees it within a second"
        watch.cancel()
        code, _ = await status_of(health.Check(health_pb2.HealthCheckRequest(service="nope.Service")))
        assert code == grpc.StatusCode.NOT_FOUND


async def publish_event(bus: Any, kind: str, topic_id: str) -> TopicEvent:
    ev = TopicEvent(
        id=f"{kind}:{topic_id}", kind=kind, topic_id=topic_id, label=f"label {topic_id}", detected_at=time.time()
    )
    if kind == "topic.trending":
        ev = ev.model_copy(update={"score": 4.5})
    await bus.publish([encode(TOPIC_EVENTS, ev, key=topic_id, event_id=ev.id, source="test", time=ev.detected_at)])
    return ev


async def read_events(call: Any, n: int, timeout_s: float = 20) -> list[Any]:
    got: list[Any] = []
    async with asyncio.timeout(timeout_s):
        while len(got) < n:
            msg = await call.read()
            assert msg is not grpc.aio.EOF
            got.append(msg)
    return got


async def test_watch_delivers_events_raised_while_open_and_resumes(stub: Any, served: Served) -> None:
    bus = served.p.backends.bus
    call = stub.WatchTopicEvents(topics_pb2.WatchTopicEventsRequest())
    start = int(dict(await call.initial_metadata())["paperwire-position"])
    raised = [await publish_event(bus, "topic.created", f"tp-w{i}") for i in range(3)]
    raised.append(await publish_event(bus, "topic.trending", "tp-w0"))
    got = await read_events(call, 4)
    call.cancel()
    assert [(m.kind, m.topic_id) for m in got] == [(e.kind, e.topic_id) for e in raised]
    assert [m.position for m in got] == list(range(start + 1, start + 5))
    assert got[3].score == 4.5 and not got[0].HasField("score") and got[0].label == "label tp-w0"

    # Resume after the second event: the third and fourth, once, in order.
    resumed = stub.WatchTopicEvents(topics_pb2.WatchTopicEventsRequest(after_position=got[1].position))
    assert int(dict(await resumed.initial_metadata())["paperwire-position"]) == got[1].position
    again = await read_events(resumed, 2)
    later = await publish_event(bus, "topic.created", "tp-w9")
    again += await read_events(resumed, 1)
    resumed.cancel()
    assert [m.id for m in again] == [got[2].id, got[3].id, later.id]

    every = stub.WatchTopicEvents(topics_pb2.WatchTopicEventsRequest(after_position=-1))
    history = await read_events(every, start + 6)
    every.cancel()
    assert [m.position for m in history] == list(range(start + 6)), "-1: every event the stream keeps"
    assert history[0].kind == "topic.created" and history[0].topic_id.startswith("tp-"), "the topic job's events"
    only = stub.WatchTopicEvents(topics_pb2.WatchTopicEventsRequest(after_position=-1, kinds=["topic.trending"]))
    trending = await read_events(only, 1)
    only.cancel()
    assert trending[0].id == got[3].id and trending[0].kind == "topic.trending", "kinds filters"

    ahead = stub.WatchTopicEvents(topics_pb2.WatchTopicEventsRequest(after_position=later_position(again) + 5))
    code, details = await status_of(ahead.read())
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "ahead of the stream" in details
    code, _ = await status_of(stub.WatchTopicEvents(topics_pb2.WatchTopicEventsRequest(kinds=["x"])).read())
    assert code == grpc.StatusCode.INVALID_ARGUMENT


def later_position(events: list[Any]) -> int:
    return int(max(m.position for m in events))


async def test_watchers_are_bounded(stub: Any, served: Served) -> None:
    calls = [stub.WatchTopicEvents(topics_pb2.WatchTopicEventsRequest()) for _ in range(3)]
    for c in calls:
        await c.initial_metadata()
    code, details = await status_of(stub.WatchTopicEvents(topics_pb2.WatchTopicEventsRequest()).read())
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "3 streams open" in details
    for c in calls:
        c.cancel()
    await asyncio.sleep(0.5)
    fresh = stub.WatchTopicEvents(topics_pb2.WatchTopicEventsRequest())
    await fresh.initial_metadata()  # a closed stream frees its place
    fresh.cancel()


@pytest.mark.kafka
@pytest.mark.elasticsearch
@pytest.mark.redis
async def test_watch_on_kafka(kafka_bootstrap: str, es_url: str, redis_url: str, namespace: str) -> None:
    async with pipeline("kafka", namespace, workers=()) as p:
        app = create_app(p.backends, master_key=TEST_MASTER_KEY)
        async with grpc_server(app.state.ctx) as target, grpc.aio.insecure_channel(target) as ch:
            stub = papers_pb2_grpc.PapersStub(ch)
            call = stub.WatchTopicEvents(topics_pb2.WatchTopicEventsRequest())
            assert int(dict(await call.initial_metadata())["paperwire-position"]) == -1, "an empty stream"
            first = await publish_event(p.backends.bus, "topic.created", "tp-k1")
            second = await publish_event(p.backends.bus, "topic.created", "tp-k2")
            got = await read_events(call, 2, 60)
            call.cancel()
            assert [m.id for m in got] == [first.id, second.id] and [m.position for m in got] == [0, 1]
            resumed = stub.WatchTopicEvents(topics_pb2.WatchTopicEventsRequest(after_position=0))
            assert [m.id for m in await read_events(resumed, 1, 60)] == [second.id]
            resumed.cancel()
