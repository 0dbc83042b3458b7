"""POST /v1/events: good events reach engagement.v1 with idempotent ids; bad ones are 4xx and nothing is sent;
integrity at the door (key scopes, actor scoping, retries counted once, star jumps, the dedupe horizon)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from paperwire_common.backends import Backends, make_backends
from paperwire_common.bus.embedded import EmbeddedBus
from paperwire_common.clock import FixedClock
from paperwire_common.settings import CommonSettings
from paperwire_common.streams import ENGAGEMENT
from paperwire_gateway.app import create_app
from paperwire_gateway.settings import GatewaySettings
from paperwire_gateway.site.render import ASSETS
from tests.conftest import MASTER_AUTH, TEST_MASTER_KEY

PAPER = "arxiv:2301.00001"
NOW = 1_767_225_600.0


@pytest.fixture
async def env() -> AsyncIterator[tuple[httpx.AsyncClient, Backends, FixedClock]]:
    b = make_backends(CommonSettings(backend="embedded"))
    await b.start()
    await b.index.upsert([{"id": PAPER, "version": 1, "content_hash": "h", "title": "A paper", "abstract": "x"}])
    clock = FixedClock(NOW)
    app = create_app(b, GatewaySettings(max_star_gain_per_hour=100), clock=clock, master_key=TEST_MASTER_KEY)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=MASTER_AUTH) as c:
        yield c, b, clock
    await b.stop()


def sent(b: Backends) -> list[dict[str, Any]]:
    assert isinstance(b.bus, EmbeddedBus)
    return [json.loads(r.value) for r in b.bus.records(ENGAGEMENT.name)]


async def new_key(c: httpx.AsyncClient, *scopes: str) -> dict[str, str]:
    r = await c.post("/v1/keys", json={"name": "test", "scopes": list(scopes)})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['key']}"}


async def test_single_and_batch_with_idempotent_ids(env: tuple[httpx.AsyncClient, Backends, FixedClock]) -> None:
    c, b, _ = env
    one = {"paper_id": PAPER, "type": "upvote", "actor_id": "u1", "ts": NOW - 60}
    r = await c.post("/v1/events", json=one)
    assert r.status_code == 202 and r.json()["accepted"] == 1
    again = await c.post("/v1/events", json=one)
    assert again.json()["ids"] == r.json()["ids"], "the same event gets the same id: counted once downstream"
    batch = [
        {"id": "client-1", "paper_id": PAPER, "type": "star", "actor_id": "github", "stars": 120},
        {"paper_id": PAPER, "type": "view", "actor_id": "u2"},
    ]
    r = await c.post("/v1/events", json=batch)
    assert r.status_code == 202 and r.json()["ids"][0] == "master/client-1", "a client id is scoped by its key"
    events = sent(b)
    assert [e["type"] for e in events] == ["upvote", "upvote", "star", "view"]
    assert events[2]["stars"] == 120 and events[3]["ts"] == NOW
    assert {e["actor_id"] for e in events} == {"master/u1", "master/github", "master/u2"}


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"paper_id": "nope", "type": "view", "actor_id": "u"}, 422, "not a known paper"),
        ({"paper_id": PAPER, "type": "like", "actor_id": "u"}, 422, "type"),
        ({"paper_id": PAPER, "type": "view", "actor_id": "u", "ts": NOW + 86_400 * 365}, 422, "future"),
        ({"paper_id": PAPER, "type": "view", "actor_id": "u", "ts": NOW - 3 * 86_400}, 422, "dedupe horizon"),
        ({"paper_id": PAPER, "type": "star", "actor_id": "gh", "stars": -5}, 422, "stars"),
        ({"paper_id": PAPER, "type": "star", "actor_id": "gh"}, 422, "needs `stars`"),
        ({"paper_id": PAPER, "type": "star", "actor_id": "gh", "stars": "5"}, 422, "valid integer"),
        ({"paper_id": PAPER, "type": "star", "actor_id": "gh", "stars": True}, 422, "valid integer"),
        ({"paper_id": PAPER, "type": "star", "actor_id": "gh", "stars": 1e30}, 422, "valid integer"),
        ({"paper_id": PAPER, "type": "star", "actor_id": "gh", "stars": 10**10}, 422, "less than or equal"),
        ({"paper_id": PAPER, "type": "view", "actor_id": "u", "ts": "now"}, 422, "ts"),
        ({"paper_id": PAPER, "type": "view", "actor_id": "u", "ts": 1e300}, 422, "ts"),
        ({"paper_id": PAPER, "type": "view", "actor_id": "a\x1fb"}, 422, "actor_id"),
        ({"paper_id": PAPER, "type": "view", "actor_id": "u", "extra": 1}, 422, "extra"),
        # values the trend store could not score (issue 14): refused at the door
        ({"paper_id": PAPER, "type": "star", "actor_id": "gh", "stars": 10**308}, 422, "stars"),
        ({"paper_id": PAPER, "type": "star", "actor_id": "gh", "stars": 1_000_000_001}, 422, "stars"),
        # NaN and Infinity are no JSON (RFC 8259), nor is a number no double holds for orjson: 400, not JSON
        ({"paper_id": PAPER, "type": "star", "actor_id": "gh", "stars": 10**309}, 400, "not valid JSON"),
        ({"paper_id": PAPER, "type": "view", "actor_id": "u", "ts": float("nan")}, 400, "not valid JSON"),
        ({"paper_id": PAPER, "type": "view", "actor_id": "u", "ts": float("inf")}, 400, "not valid JSON"),
        ({"paper_id": PAPER, "type": "view", "actor_id": "u", "ts": 1e309}, 400, "not valid JSON"),
        ([], 422, "no events"),
    ],
)
async def test_bad_events_are_refused_and_nothing_is_sent(
    env: tuple[httpx.AsyncClient, Backends, FixedClock], body: Any, status: int, detail: str
) -> None:
    c, b, _ = env
    good = {"paper_id": PAPER, "type": "view", "actor_id": "ok"}
    # json.dumps writes NaN and Infinity literals, which the gateway's JSON parser reads as floats
    raw = json.dumps([good, body] if isinstance(body, dict) else body)
    r = await c.post("/v1/events", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert detail in r.json()["detail"]
    assert sent(b) == [], "all or nothing: the good event of a bad batch is not sent either"


@pytest.mark.parametrize(
    ("content", "ctype", "status"),
    [
        ('{"paper_id": "arxiv:2301.00001", "type": "view", "actor_id": "u"}', "text/plain", 415),
        ('{"paper_id": "arxiv:2301.00001", "type": "view", "actor_id": "u"}', "application/x-www-form-urlencoded", 415),
        ('{"paper_id": "arxiv:2301.00001", "type": "view", "actor_id": "u"}', "", 415),
        ("[" * 10_000 + "]" * 10_000, "application/json", 400),  # nested beyond the parser's depth limit
        ('{"paper_id": ', "application/json", 400),
    ],
)
async def test_bodies_must_be_json_labelled_as_such(
    env: tuple[httpx.AsyncClient, Backends, FixedClock], content: str, ctype: str, status: int
) -> None:
    c, b, _ = env
    headers = {"content-type": ctype} if ctype else {}
    r = await c.post("/v1/events", content=content.encode(), headers=headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json") and sent(b) == []


async def test_a_1mb_body_is_413(env: tuple[httpx.AsyncClient, Backends, FixedClock]) -> None:
    c, b, _ = env
    huge = json.dumps([{"paper_id": PAPER, "type": "view", "actor_id": "x" * 100}] * 8000)
    assert len(huge) > 1_000_000
    r = await c.post("/v1/events", content=huge, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["status"] == 413
    assert sent(b) == []


async def test_writes_need_a_key_with_the_scope(env: tuple[httpx.AsyncClient, Backends, FixedClock]) -> None:
    c, b, _ = env
    ev = {"paper_id": PAPER, "type": "view", "actor_id": "u"}
    r = await c.post("/v1/events", json=ev, headers={"Authorization": ""})
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    r = await c.post("/v1/events", json=ev, headers={"Authorization": "Bearer pw_unknown"})
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    r = await c.post("/v1/events", json=ev, headers={"Authorization": "Basic dTpw"})
    assert r.status_code == 401 and 'error="invalid_request"' in r.headers["www-authenticate"]
    papers_only = await new_key(c, "papers:write")
    r = await c.post("/v1/events", json=ev, headers=papers_only)
    assert r.status_code == 403 and "events:write" in r.json()["detail"]
    assert sent(b) == []
    r = await c.post("/v1/events", json=ev, headers=await new_key(c, "events:write"))
    assert r.status_code == 202 and len(sent(b)) == 1


async def test_one_key_cannot_impersonate_another_keys_actors(
    env: tuple[httpx.AsyncClient, Backends, FixedClock],
) -> None:
    c, b, _ = env
    alice, mallory = await new_key(c, "events:write"), await new_key(c, "events:write")
    vote = {"paper_id": PAPER, "type": "upvote", "actor_id": "u1", "ts": NOW - 10, "id": "vote-1"}
    a = await c.post("/v1/events", json=vote, headers=alice)
    m = await c.post("/v1/events", json={**vote, "type": "unvote"}, headers=mallory)
    assert a.status_code == m.status_code == 202
    first, second = sent(b)
    assert first["actor_id"] != second["actor_id"], "mallory's u1 is not alice's u1: the unvote withdraws nothing"
    assert first["id"] != second["id"], "nor can mallory's event id shadow alice's"
    assert first["actor_id"].endswith("/u1") and first["id"].endswith("/vote-1")


async def test_a_retry_without_ts_counts_once(env: tuple[httpx.AsyncClient, Backends, FixedClock]) -> None:
    c, b, clock = env
    ev = {"paper_id": PAPER, "type": "download", "actor_id": "u"}
    first = await c.post("/v1/events", json=ev)
    clock.advance(30)  # the client timed out and retried
    retry = await c.post("/v1/events", json=ev)
    assert first.json()["ids"] == retry.json()["ids"], "the same event id: trending counts it once"
    assert {e["ts"] for e in sent(b)} == {NOW}
    clock.advance(601)  # past PAPERWIRE_GATEWAY_EVENT_DEDUPE_WINDOW_S: a new download
    later = await c.post("/v1/events", json=ev)
    assert later.json()["ids"] != first.json()["ids"] and sent(b)[-1]["ts"] == NOW + 631


async def test_an_idempotency_key_replays_the_first_request(
    env: tuple[httpx.AsyncClient, Backends, FixedClock],
) -> None:
    c, b, clock = env
    batch = [{"paper_id": PAPER, "type": "view", "actor_id": f"u{i}"} for i in range(3)]
    headers = {"Idempotency-Key": "req-42"}
    first = await c.post("/v1/events", json=batch, headers=headers)
    clock.advance(3600)  # far past the dedupe window: the header still makes it the same request
    retry = await c.post("/v1/events", json=batch, headers=headers)
    assert first.status_code == retry.status_code == 202 and first.json() == retry.json()
    assert {e["ts"] for e in sent(b)} == {NOW}
    other = await c.post("/v1/events", json=batch[:1], headers=headers)
    assert other.status_code == 422 and "another body" in other.json()["detail"]


async def test_a_star_snapshot_may_not_jump(env: tuple[httpx.AsyncClient, Backends, FixedClock]) -> None:
    c, b, clock = env
    star = {"paper_id": PAPER, "type": "star", "actor_id": "github"}
    assert (await c.post("/v1/events", json={**star, "stars": 0})).status_code == 202, "the baseline"
    clock.advance(3600)
    r = await c.post("/v1/events", json={**star, "stars": 1_000_000})
    assert r.status_code == 422 and "jumps from 0 to 1000000" in r.json()["detail"]
    assert (await c.post("/v1/events", json={**star, "stars": 100})).status_code == 202, "100 an hour is fine"
    # Another key's snapshot of the same paper is held to the same ledger.
    other = await new_key(c, "events:write")
    r = await c.post("/v1/events", json={**star, "stars": 5000}, headers=other)
    assert r.status_code == 422
    assert [e["stars"] for e in sent(b)] == [0, 100]


async def test_a_read_with_a_bad_key_is_401_and_anonymous_reads_are_public(
    env: tuple[httpx.AsyncClient, Backends, FixedClock],
) -> None:
    c, _, _ = env
    assert (await c.get("/v1/feeds/latest", headers={"Authorization": ""})).status_code == 200
    r = await c.get("/v1/feeds/latest", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")


async def test_reads_can_require_a_key() -> None:
    b = make_backends(CommonSettings(backend="embedded"))
    await b.start()
    app = create_app(b, GatewaySettings(public_reads=False), master_key=TEST_MASTER_KEY)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/v1/feeds/latest")
        assert r.status_code == 401 and "www-authenticate" in r.headers
        assert (await c.get("/v1/feeds/latest", headers=MASTER_AUTH)).status_code == 200
        assert (await c.get("/healthz")).status_code == 200 and (await c.get("/openapi.json")).status_code == 200
        assert (await c.get("/")).status_code == 401, "the site's pages show data: they need a key too"
        assert (await c.get("/", headers=MASTER_AUTH)).status_code == 200
        for name in ASSETS:  # the stylesheet and script (content-hashed names) hold none
            assert (await c.get(f"/assets/{name}")).status_code == 200, name
        op = app.openapi()["paths"]["/v1/feeds/latest"]["get"]
        assert op["security"] == [{"bearerKey": []}]
    await b.stop()
    _ = time


async def test_the_largest_star_count_is_accepted(env: tuple[httpx.AsyncClient, Backends, FixedClock]) -> None:
    c, b, _ = env
    r = await c.post("/v1/events", json={"paper_id": PAPER, "type": "star", "actor_id": "gh", "stars": 1_000_000_000})
    assert r.status_code == 202 and sent(b)[0]["stars"] == 1_000_000_000
