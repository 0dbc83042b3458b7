"""Atom feeds on the seed corpus (embedded backends): every feed parses with feedparser without a flaw
(`bozo == 0`) and has what RFC 4287 requires, entries link where they should, and revalidation gets 304."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import feedparser
import httpx
import pytest
import pytest_asyncio

from paperwire_common.clock import SystemClock
from paperwire_gateway.app import create_app
from paperwire_trending.topic_job import recluster
from tests.conftest import MASTER_AUTH, SAMPLE, TEST_MASTER_KEY
from tests.unit.search.test_search_service import BagOfWords

from .pipeline import Pipeline, pipeline

pytestmark = pytest.mark.asyncio(loop_scope="module")
PUBLIC = "https://papers.example.org"


class SteppedClock:
    """The real time plus an offset a test moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def seeded() -> AsyncIterator[Pipeline]:
    async with pipeline("embedded", workers=("enricher", "indexer", "trending"), public_url=PUBLIC + "/") as p:
        await p.ingest(str(SAMPLE))
        await p.settle()
        ids = sorted(await p.backends.index.snapshot())
        docs = await p.backends.index.get_many(ids)
        vecs = BagOfWords().encode([f"{d.get('title', '')}. {d.get('abstract', '')}" for d in docs.values()])
        await p.backends.index.upsert(
            [
                {**d, "version": d["version"] + 1, "embedding": [float(x) for x in v]}
                for d, v in zip(docs.values(), vecs, strict=True)
            ]
        )
        await recluster(p.backends, p.backends.topics, SystemClock())
        yield p


@pytest_asyncio.fixture(loop_scope="module")
async def client(seeded: Pipeline) -> AsyncIterator[tuple[httpx.AsyncClient, SteppedClock]]:
    clock = SteppedClock()
    app = create_app(seeded.backends, clock=clock, master_key=TEST_MASTER_KEY)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c, clock


def parse(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(r.content)
    assert feed.bozo == 0, f"not well-formed: {feed.get('bozo_exception')!r}"
    assert feed.version == "atom10"
    f = feed.feed
    assert f.id.startswith("urn:paperwire:feed:") and f.title and f.updated_parsed
    links = {ln.rel: ln.href for ln in f.links}
    assert links["self"].startswith(PUBLIC + "/v1/") and links["alternate"].startswith(PUBLIC + "/")
    assert f.author_detail.name == "Paperwire"
    for e in feed.entries:
        assert e.id.startswith("urn:paperwire:paper:") and e.title and e.updated_parsed, e
        pid = e.id.removeprefix("urn:paperwire:paper:")
        pages = [ln.href for ln in e.links if ln.rel == "alternate"]
        assert pages == [f"{PUBLIC}/papers/{pid}"]
    return feed


async def test_every_feed_is_valid_atom_with_the_required_elements(
    client: tuple[httpx.AsyncClient, SteppedClock], seeded: Pipeline
) -> None:
    c, _ = client
    topics = (await c.get("/v1/topics")).json()
    assert topics, "the seed corpus clusters into topics"
    topic = topics[0]
    feeds = {
        "trending": await c.get("/v1/feeds/trending.atom", params={"window": "7d", "size": 30}),
        "trending in a topic": await c.get("/v1/feeds/trending.atom", params={"topic": topic["id"]}),
        "latest": await c.get("/v1/feeds/latest.atom", params={"size": 15}),
        "topic": await c.get(f"/v1/topics/{topic['id']}/feed.atom"),
        "search": await c.get("/v1/feeds/search.atom", params={"q": '"language models" OR forecasting'}),
    }
    parsed = {name: parse(r) for name, r in feeds.items()}
    assert len(parsed["trending"].entries) == 30 and len(parsed["latest"].entries) == 15
    assert topic["label"] in parsed["topic"].feed.title and topic["label"] in parsed["trending in a topic"].feed.title
    assert len(parsed["topic"].entries) == min(topic["size"], 20)
    assert (
        parsed["search"].entries and parsed["search"].feed.title == 'Paperwire search: "language models" OR forecasting'
    )

    # The trending feed is the JSON feed, in rank order.
    ranked = (await c.get("/v1/feeds/trending", params={"window": "7d", "size": 30})).json()["items"]
    assert [e.id.removeprefix("urn:paperwire:paper:") for e in parsed["trending"].entries] == [i["id"] for i in ranked]
    # Newest arrivals first in a saved search and a topic.
    for name in ("search", "topic"):
        stamps = [e.updated_parsed for e in parsed[name].entries]
        assert stamps == sorted(stamps, reverse=True), name

    entry = parsed["latest"].entries[0]
    doc = await seeded.backends.index.get(entry.id.removeprefix("urn:paperwire:paper:"))
    assert doc is not None
    assert entry.summary and doc["abstract"].startswith(entry.summary.rstrip("…")[:80])
    assert len(entry.summary) <= 601 and entry.summary.count(". ") <= 2, "at most three sentences"
    with_code = [e for p in parsed.values() for e in p.entries if any(ln.get("title") == "code" for ln in e.links)]
    assert with_code, "some seed papers link their code"


async def test_summary_field_hostile_text_and_errors(
    client: tuple[httpx.AsyncClient, SteppedClock], seeded: Pipeline
) -> None:
    c, _ = client
    ix = seeded.backends.index
    ids = sorted(await ix.snapshot())
    d = await ix.get(ids[3])
    assert d is not None
    summary = "An extractive summary. It wins over the abstract."
    hostile = "Nul\x00 and\x0b vertical tab <b>&amp; markup</b> ]]> \ufffe end"
    extra = {"summary": summary, "authors": ["Ada Lovelace", "Alan Turing"], "arxiv_id": "2401.01234", "doi": "10.1/x"}
    await ix.upsert([{**d, "version": d["version"] + 1, "title": hostile, "ingested_at": time.time() + 5, **extra}])
    feed = parse(await c.get("/v1/feeds/search.atom", params={"q": "markup", "size": 5}))
    entry = next(e for e in feed.entries if e.id.endswith(ids[3]))
    assert entry.summary == summary
    assert [a.name for a in entry.authors] == ["Ada Lovelace", "Alan Turing"]
    related = {ln.get("title"): ln.href for ln in entry.links if ln.rel == "related"}
    assert related == {
        "arXiv": "https://arxiv.org/abs/2401.01234",
        "PDF": "https://arxiv.org/pdf/2401.01234",
        "DOI": "https://doi.org/10.1/x",
    }
    assert entry.title == "Nul and vertical tab <b>&amp; markup</b> ]]>  end", "control characters dropped, rest kept"

    bad = await c.get("/v1/feeds/search.atom", params={"q": "a\x00b"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert (await c.get("/v1/feeds/search.atom", params={"q": "(unbalanced"})).status_code == 400
    assert (await c.get("/v1/feeds/search.atom")).status_code == 422
    missing = await c.get("/v1/topics/nope/feed.atom")
    assert missing.status_code == 404 and missing.json()["detail"] == "no topic with id 'nope'"
    assert (await c.get("/v1/feeds/trending.atom", params={"window": "1y"})).status_code == 422
    assert (await c.get("/v1/feeds/latest.atom", params={"size": 1000})).status_code == 422


async def test_conditional_get_gets_304_until_the_feed_changes(
    client: tuple[httpx.AsyncClient, SteppedClock], seeded: Pipeline
) -> None:
    c, clock = client
    url = "/v1/feeds/trending.atom"
    params: dict[str, str | int] = {"window": "24h", "size": 5}
    first = await c.get(url, params=params)
    parse(first)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    clock.offset += 120  # scores decay, the ranking stays: the same version
    again = await c.get(url, params=params, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and again.headers["last-modified"] == modified
    assert (await c.get(url, params=params, headers={"If-Modified-Since": modified})).status_code == 304
    assert (await c.get(url, params=params, headers={"If-None-Match": f'W/{etag}, "other"'})).status_code == 304
    assert (await c.get(url, params=params, headers={"If-None-Match": '"other"'})).status_code == 200
    # If-None-Match decides when both are sent (RFC 9110 §13.2.2)
    both = {"If-None-Match": '"other"', "If-Modified-Since": modified}
    assert (await c.get(url, params=params, headers=both)).status_code == 200
    assert (await c.get(url, params=params, headers={"If-Modified-Since": "not a date"})).status_code == 200
    earlier = format_datetime(parsedate_to_datetime(modified).replace(year=2000), usegmt=True)
    assert (await c.get(url, params=params, headers={"If-Modified-Since": earlier})).status_code == 200
    # The same feed with its parameters in another order is the same feed.
    swapped = await c.get(f"{url}?size=5&window=24h", headers={"If-None-Match": etag})
    assert swapped.status_code == 304

    # Engagement moves a paper to the top: a new version, later than the one before, in the same second too.
    ids = sorted(await seeded.backends.index.snapshot())
    evs = [{"paper_id": ids[11], "type": "upvote", "actor_id": f"feed{i}", "ts": time.time()} for i in range(30)]
    assert (await c.post("/v1/events", json=evs, headers=MASTER_AUTH)).status_code == 202
    await seeded.settle()
    changed = await c.get(url, params=params, headers={"If-None-Match": etag, "If-Modified-Since": modified})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert parsedate_to_datetime(changed.headers["last-modified"]) > parsedate_to_datetime(modified)
    top = parse(changed).entries[0]
    assert top.id == f"urn:paperwire:paper:{ids[11]}"
    assert (await c.get(url, params=params, headers={"If-Modified-Since": modified})).status_code == 200


async def test_openapi_documents_atom_and_304(client: tuple[httpx.AsyncClient, SteppedClock]) -> None:
    c, _ = client
    doc = (await c.get("/openapi.json")).json()
    for path in ("/v1/feeds/trending.atom", "/v1/feeds/latest.atom", "/v1/topics/{topic_id}/feed.atom"):
        answers = doc["paths"][path]["get"]["responses"]
        assert set(answers["200"]["content"]) == {"application/atom+xml"}
        assert {"ETag", "Last-Modified"} <= set(answers["200"]["headers"]) and "304" in answers
        assert set(answers["422"]["content"]) == {"application/problem+json"}
