"""POST /v1/events: good events reach engagement.v1 with idempotent ids; bad ones are 4xx and nothing is sent."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from paperwire_common.backends import Backends, make_backends
from paperwire_common.bus.embedded import EmbeddedBus
from paperwire_common.settings import CommonSettings
from paperwire_common.streams import ENGAGEMENT
from paperwire_gateway.app import create_app


@pytest.fixture
async def env() -> AsyncIterator[tuple[httpx.AsyncClient, Backends]]:
    b = make_backends(CommonSettings(backend="embedded"))
    await b.start()
    await b.index.upsert(
        [{"id": "arxiv:2301.00001", "version": 1, "content_hash": "h", "title": "A paper", "abstract": "x"}]
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(b)), base_url="http://t") as c:
        yield c, b
    await b.stop()


def sent(b: Backends) -> list[dict[str, Any]]:
    assert isinstance(b.bus, EmbeddedBus)
    return [json.loads(r.value) for r in b.bus.records(ENGAGEMENT.name)]


async def test_single_and_batch_with_idempotent_ids(env: tuple[httpx.AsyncClient, Backends]) -> None:
    c, b = env
    one = {"paper_id": "arxiv:2301.00001", "type": "upvote", "actor_id": "u1", "ts": 1_700_000_000}
    r = await c.post("/v1/events", json=one)
    assert r.status_code == 202 and r.json()["accepted"] == 1
    again = await c.post("/v1/events", json=one)
    assert again.json()["ids"] == r.json()["ids"], "the same event gets the same id: counted once downstream"
    batch = [
        {"id": "client-1", "paper_id": "arxiv:2301.00001", "type": "star", "actor_id": "github", "stars": 120},
        {"paper_id": "arxiv:2301.00001", "type": "view", "actor_id": "u2"},
    ]
    r = await c.post("/v1/events", json=batch)
    assert r.status_code == 202 and r.json()["ids"][0] == "client-1"
    events = sent(b)
    assert [e["type"] for e in events] == ["upvote", "upvote", "star", "view"]
    assert events[2]["stars"] == 120 and abs(events[3]["ts"] - time.time()) < 60


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"paper_id": "nope", "type": "view", "actor_id": "u"}, 422, "not a known paper"),
        ({"paper_id": "arxiv:2301.00001", "type": "like", "actor_id": "u"}, 422, "type"),
        (
            {"paper_id": "arxiv:2301.00001", "type": "view", "actor_id": "u", "ts": time.time() + 86_400 * 365},
            422,
            "future",
        ),
        ({"paper_id": "arxiv:2301.00001", "type": "star", "actor_id": "gh", "stars": -5}, 422, "stars"),
        ({"paper_id": "arxiv:2301.00001", "type": "star", "actor_id": "gh"}, 422, "needs `stars`"),
        # values the trend store could not score (issue 14): refused at the door
        ({"paper_id": "arxiv:2301.00001", "type": "star", "actor_id": "gh", "stars": 10**308}, 422, "stars"),
        ({"paper_id": "arxiv:2301.00001", "type": "star", "actor_id": "gh", "stars": 10**309}, 422, "stars"),
        ({"paper_id": "arxiv:2301.00001", "type": "star", "actor_id": "gh", "stars": 1_000_000_001}, 422, "stars"),
        ({"paper_id": "arxiv:2301.00001", "type": "view", "actor_id": "u", "ts": float("nan")}, 422, "ts"),
        ({"paper_id": "arxiv:2301.00001", "type": "view", "actor_id": "u", "ts": float("inf")}, 422, "ts"),
        ({"paper_id": "arxiv:2301.00001", "type": "view", "actor_id": "u", "ts": 1e309}, 422, "ts"),
        ([], 422, "no events"),
    ],
)
async def test_bad_events_are_refused_and_nothing_is_sent(
    env: tuple[httpx.AsyncClient, Backends], body: Any, status: int, detail: str
) -> None:
    c, b = env
    good = {"paper_id": "arxiv:2301.00001", "type": "view", "actor_id": "ok"}
    # json.dumps writes NaN and Infinity literals, which the gateway's JSON parser reads as floats
    raw = json.dumps([good, body] if isinstance(body, dict) else body)
    r = await c.post("/v1/events", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert detail in r.json()["detail"]
    assert sent(b) == [], "all or nothing: the good event of a bad batch is not sent either"


async def test_a_1mb_body_is_413(env: tuple[httpx.AsyncClient, Backends]) -> None:
    c, b = env
    huge = json.dumps([{"paper_id": "arxiv:2301.00001", "type": "view", "actor_id": "x" * 100}] * 8000)
    assert len(huge) > 1_000_000
    r = await c.post("/v1/events", content=huge, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["status"] == 413
    assert sent(b) == []


async def test_the_largest_star_count_is_accepted(env: tuple[httpx.AsyncClient, Backends]) -> None:
    c, b = env
    r = await c.post(
        "/v1/events", json={"paper_id": "arxiv:2301.00001", "type": "star", "actor_id": "gh", "stars": 1_000_000_000}
    )
    assert r.status_code == 202 and sent(b)[0]["stars"] == 1_000_000_000
