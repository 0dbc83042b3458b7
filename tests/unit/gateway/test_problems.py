"""Bad requests get a 4xx problem+json that says what is wrong — never a 5xx."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from paperwire_common.backends import make_backends
from paperwire_common.settings import CommonSettings
from paperwire_gateway.app import create_app
from tests.conftest import TEST_MASTER_KEY


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    b = make_backends(CommonSettings(backend="embedded"))
    await b.start()
    await b.index.upsert([{"id": "p1", "version": 1, "content_hash": "h", "title": "Runs fast", "abstract": "x"}])
    transport = httpx.ASGITransport(app=create_app(b, master_key=TEST_MASTER_KEY))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c
    await b.stop()


@pytest.mark.parametrize(
    ("params", "status", "detail"),
    [
        ({"q": '"unbalanced'}, 400, "quote"),
        ({"q": "x" * 10_000}, 422, "at most 1000"),
        ({"q": "colour:red"}, 400, "unknown field"),
        ({"q": "a", "size": "-1"}, 422, "size"),
        ({"q": "a", "size": "100000"}, 422, "size"),
        ({"q": "a", "has_code": "maybe"}, 422, "has_code"),
        ({"q": "a", "cursor": "eyJmIjoiMSJ9.deadbeef"}, 400, "cursor"),
        ({"q": "a", "mode": "magic"}, 422, "mode"),
        ({"q": "a", "from": "2024-13-01"}, 422, "from"),
        ({"q": "a OR"}, 400, "OR"),
        ({"q": "(a b"}, 400, "parenthes"),
        # Found by fuzzing: each was a 500.
        ({"q": "a", "cursor": "x.\u00e9"}, 400, "cursor"),  # non-ASCII signature (compare_digest TypeError)
        ({"q": "a\x00b"}, 400, "control character"),  # NUL reached SQLite's FTS5 parser
        ({"q": "a", "fields": "title,embedding"}, 422, "embedding is not served"),  # the raw vector
        ({"q": "a", "facets": "colour"}, 400, "unknown facet"),
    ],
)
async def test_bad_searches(client: httpx.AsyncClient, params: dict[str, str], status: int, detail: str) -> None:
    r = await client.get("/v1/search", params=params)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and detail in body["detail"] and body["title"]


async def test_unknown_paper_is_404_problem(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/papers/arxiv:0000.00000")
    assert r.status_code == 404 and r.json()["detail"] == "no paper with id 'arxiv:0000.00000'"


async def test_search_and_get(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/search", params={"q": "running"})).json()
    assert body["total"] == 1 and body["items"][0]["id"] == "p1" and body["next_cursor"] is None
    assert (await client.get("/v1/papers/p1")).json()["title"] == "Runs fast"


async def test_health_endpoints(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).status_code == 200
    assert "paperwire_" in (await client.get("/metrics")).text


async def test_the_last_day_is_a_valid_bound(client: httpx.AsyncClient) -> None:
    """`to=9999-12-31` overflowed the day after it (a 500); it is the open upper bound now."""
    await client.get("/v1/search", params={"q": "running", "from": "0001-01-01"})
    r = await client.get("/v1/search", params={"q": "running", "to": "9999-12-31"})
    assert r.status_code == 200, r.text


async def test_405_says_what_is_allowed(client: httpx.AsyncClient) -> None:
    r = await client.put("/v1/search")
    assert r.status_code == 405 and r.headers["allow"] == "GET"
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.patch("/v1/keys")  # two routes on one path: both methods are named
    assert r.status_code == 405 and r.headers["allow"] == "GET, POST"
