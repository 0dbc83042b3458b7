"""A hostile query in flight does not hold up the rest of the gateway: /healthz answers at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from paperwire_common.backends import make_backends
from paperwire_common.search.port import SearchRequest
from paperwire_common.settings import CommonSettings
from paperwire_gateway.app import create_app

HOSTILE = " ".join(["a"] * 500)[:999]


@pytest.fixture
async def gateway(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    b = make_backends(CommonSettings(backend="embedded"))
    await b.start()
    docs = [
        {"id": f"p{i}", "version": 1, "content_hash": "h", "title": f"A paper {i}", "abstract": "a b c " * 50}
        for i in range(200)
    ]
    await b.index.upsert(docs)
    transport = httpx.ASGITransport(app=create_app(b))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c, b.index
    await b.stop()


async def test_the_hostile_query_is_answered(gateway: tuple[httpx.AsyncClient, Any]) -> None:
    client, _ = gateway
    for mode in ("keyword", "hybrid"):
        r = await client.get("/v1/search", params={"q": HOSTILE, "size": 100, "mode": mode})
        assert r.status_code == 200
        body = r.json()
        assert body["total"] == 200 and len(body["items"]) == 100 and body["total_relation"] == "eq"


async def test_healthz_answers_while_a_hostile_query_is_in_flight(
    gateway: tuple[httpx.AsyncClient, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, index = gateway
    real = index.keyword.search
    started = asyncio.Event()
    loop = asyncio.get_running_loop()

    def slow(req: SearchRequest) -> Any:  # as slow as the hostile query was before its terms collapsed
        loop.call_soon_threadsafe(started.set)
        time.sleep(1.5)
        return real(req)

    monkeypatch.setattr(index.keyword, "search", slow)
    search = asyncio.create_task(client.get("/v1/search", params={"q": HOSTILE, "size": 100, "mode": "keyword"}))
    await asyncio.wait_for(started.wait(), 5)
    t0 = time.monotonic()
    health = await client.get("/healthz")
    waited = time.monotonic() - t0
    assert health.status_code == 200 and waited < 1.0 and not search.done()
    assert (await search).status_code == 200
