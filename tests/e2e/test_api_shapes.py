"""Every REST endpoint on the seed corpus (embedded backends, a small deterministic encoder): each answers with
its documented model (FastAPI validates every response against schemas.py, a mismatch would be a 500) and
carries only the keys it had before the models existed (no null-filled fields)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from paperwire_common.clock import SystemClock
from paperwire_gateway import schemas
from paperwire_gateway.app import create_app
from paperwire_trending.topic_job import recluster
from tests.conftest import MASTER_AUTH, SAMPLE, TEST_MASTER_KEY
from tests.unit.search.test_search_service import BagOfWords

from .pipeline import Pipeline, pipeline

# One seeded pipeline for the module: every test runs in the module's event loop.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def seeded() -> AsyncIterator[Pipeline]:
    async with pipeline("embedded", workers=("enricher", "indexer", "trending")) as p:
        await p.ingest(str(SAMPLE))
        await p.settle()
        ids = sorted(await p.backends.index.snapshot())
        docs = await p.backends.index.get_many(ids[:-1])  # the last paper keeps no vector (text neighbours)
        enc = BagOfWords()
        vecs = enc.encode([f"{d.get('title', '')}. {d.get('abstract', '')}" for d in docs.values()])
        await p.backends.index.upsert(
            [
                {**d, "version": d["version"] + 1, "embedding": [float(x) for x in v]}
                for d, v in zip(docs.values(), vecs, strict=True)
            ]
        )
        await p.backends.index.refresh()
        await recluster(p.backends, p.backends.topics, SystemClock())
        await p.settle()  # the topic assignments reach the index before any search pages through it
        yield p


@pytest_asyncio.fixture(loop_scope="module")
async def client(seeded: Pipeline) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(seeded.backends, encoder=BagOfWords(), master_key=TEST_MASTER_KEY)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", headers=MASTER_AUTH) as c:
        yield c


async def ok(c: httpx.AsyncClient, model: Any, method: str, path: str, **kw: Any) -> Any:
    r = await c.request(method, path, **kw)
    assert r.status_code in (200, 202), f"{method} {path}: {r.status_code} {r.text[:500]}"
    body = r.json()
    if isinstance(body, list):
        for x in body:
            model.model_validate(x)
    else:
        model.model_validate(body)
    return body


@pytest.mark.parametrize("mode", ["keyword", "semantic", "hybrid"])
async def test_search_in_every_mode(client: httpx.AsyncClient, mode: str) -> None:
    page = await ok(client, schemas.SearchPage, "GET", "/v1/search", params={"q": "language models", "mode": mode})
    assert set(page) == {"total", "total_relation", "items", "facets", "next_cursor", "mode"} and page["mode"] == mode
    assert page["total_relation"] == "eq" and page["facets"] == {}  # facets only when asked for
    assert len(page["items"]) == 10 and page["next_cursor"]
    item = page["items"][0]
    assert {"id", "title", "score", "highlights"} <= set(item) and "embedding" not in item and "explain" not in item
    nxt = await ok(
        client,
        schemas.SearchPage,
        "GET",
        "/v1/search",
        params={"q": "language models", "mode": mode, "cursor": page["next_cursor"], "explain": "true"},
    )
    assert {i["id"] for i in nxt["items"]}.isdisjoint(i["id"] for i in page["items"])
    assert set(nxt["items"][0]["explain"]) == {
        "keyword_rank",
        "keyword_score",
        "vector_rank",
        "vector_score",
        "fused_score",
        "title_match",
    }


async def test_search_fields_filters_and_degraded(client: httpx.AsyncClient, seeded: Pipeline) -> None:
    page = await ok(
        client,
        schemas.SearchPage,
        "GET",
        "/v1/search",
        params={"q": "time series", "mode": "keyword", "fields": "title,year", "source": "jsonl", "facets": "all"},
    )
    assert page["items"] and all(set(i) <= {"id", "title", "year", "score", "highlights"} for i in page["items"])
    assert {"topics", "year", "has_code", "source"} <= set(page["facets"])
    app = create_app(seeded.backends, master_key=TEST_MASTER_KEY)  # no encoder: hybrid degrades to keyword and says why
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", headers=MASTER_AUTH) as c:
        page = await ok(c, schemas.SearchPage, "GET", "/v1/search", params={"q": "graphs"})
    assert page["mode"] == "keyword" and "semantic part unavailable" in page["degraded"]
    got = await ok(client, schemas.Suggestions, "GET", "/v1/suggest", params={"prefix": "tim"})
    assert got["suggestions"] and {"text", "kind", "id"} == set(got["suggestions"][0])


async def test_papers_neighbours_and_recommendations(client: httpx.AsyncClient, seeded: Pipeline) -> None:
    ids = sorted(await seeded.backends.index.snapshot())
    paper = await ok(client, schemas.Paper, "GET", f"/v1/papers/{ids[0]}")
    assert paper["id"] == ids[0] and "embedding" not in paper and None not in paper.values()
    near = await ok(client, schemas.SimilarPapers, "GET", f"/v1/papers/{ids[0]}/similar", params={"size": 3})
    assert near["method"] == "vector" and len(near["items"]) == 3
    text = await ok(client, schemas.SimilarPapers, "GET", f"/v1/papers/{ids[-1]}/similar")
    assert text["method"] == "text"
    rec = await ok(
        client,
        schemas.Recommendations,
        "POST",
        "/v1/recommendations",
        json={"positivePaperIds": ids[:2], "negativePaperIds": ids[2:3]},
        params={"limit": 4},
    )
    assert len(rec["recommendedPapers"]) == 4 and set(rec["recommendedPapers"][0]) == {"paperId", "title"}
    assert not {p["paperId"] for p in rec["recommendedPapers"]} & set(ids[:3])
    rich = await ok(
        client,
        schemas.Recommendations,
        "POST",
        "/v1/recommendations",
        json={"positivePaperIds": ids[:1]},
        params={"fields": "title,url,authors.name,publicationDate,externalIds", "limit": 2},
    )
    first = rich["recommendedPapers"][0]
    assert list(first) == ["paperId", "externalIds", "url", "title", "publicationDate", "authors"]
    assert first["url"] == f"http://127.0.0.1:8000/papers/{first['paperId']}" and first["externalIds"] == {}
    bad = await client.post("/v1/recommendations", json={"positivePaperIds": ids[:1]}, params={"fields": "venue,x"})
    assert bad.status_code == 400 and "Unrecognized or unsupported fields: [venue, x]" in bad.json()["detail"]
    old = await client.post("/v1/recommendations", json={"positive_ids": ids[:1]})
    assert old.status_code == 422, "the old snake_case body is refused, not silently empty"
    gone = await client.post("/v1/recommendations", json={"positivePaperIds": ["ArXiv:0000.00000"]})
    assert gone.status_code == 404


async def test_trending_compat_topics_events_and_ops(client: httpx.AsyncClient, seeded: Pipeline) -> None:
    ids = sorted(await seeded.backends.index.snapshot())
    now = time.time()
    evs = [{"paper_id": ids[5], "type": "upvote", "actor_id": f"u{i}", "ts": now - 60} for i in range(3)]
    accepted = await ok(client, schemas.EventsAccepted, "POST", "/v1/events", json=evs)
    assert accepted["accepted"] == 3
    await seeded.settle()
    feed = await ok(client, schemas.TrendingFeed, "GET", "/v1/feeds/trending", params={"size": 5})
    assert feed["items"][0]["id"] == ids[5] and set(feed) == {"window", "topic", "as_of", "items"}
    latest = await ok(client, schemas.LatestFeed, "GET", "/v1/feeds/latest", params={"size": 3})
    assert len(latest["items"]) == 3
    ex = await ok(client, schemas.TrendExplain, "GET", f"/v1/papers/{ids[5]}/trending")
    assert ex["windows"]["24h"]["breakdown"]["upvote"]["count"] == 3
    for params in ({}, {"sort": "publishedAt", "limit": 5}, {"date": "2024-01-01"}):
        await ok(client, schemas.DailyPaper, "GET", "/api/daily_papers", params=params)
    daily = await ok(client, schemas.DailyPaper, "GET", "/api/daily_papers", params={"limit": 1, "sort": "trending"})
    assert daily[0]["paper"]["upvotes"] == 3
    topics = await ok(client, schemas.TopicSummary, "GET", "/v1/topics", params={"sort": "trending"})
    assert topics, "the seed corpus clusters into topics"
    detail = await ok(client, schemas.TopicDetail, "GET", f"/v1/topics/{topics[0]['id']}", params={"papers": 2})
    assert len(detail["papers"]) == 2
    assert await ok(client, schemas.Health, "GET", "/healthz") == {"status": "ok"}
    assert (await ok(client, schemas.Ready, "GET", "/readyz"))["status"] == "ready"
