"""The subscription API over real HTTP (the gateway served by uvicorn) on both backends: SSRF refusals as 422
problem+json with no connection made, the delivery log after 503, 503, 503, 200, the test ping and a secret
rotation (both signatures verified by `standardwebhooks`), and owner isolation."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from paperwire_common.backends import Backends, make_backends
from paperwire_common.events import TopicEvent
from paperwire_common.settings import CommonSettings
from paperwire_common.webhooks.ssrf import IPAddress, resolve
from tests.conftest import MASTER_AUTH, free_port, mint_key
from tests.notify_kit import ConnectionCounter, Receivers, eventually

from .notify_rig import backend_settings, notify_rig, served

BACKENDS = ["embedded", pytest.param("kafka", marks=[pytest.mark.kafka, pytest.mark.elasticsearch, pytest.mark.redis])]
PROBLEM = "application/problem+json"


@pytest.fixture(params=BACKENDS)
def common(request: pytest.FixtureRequest) -> dict[str, Any]:
    return backend_settings(request.param, request)


@asynccontextmanager
async def backends(common: dict[str, Any]) -> AsyncIterator[Backends]:
    b = make_backends(CommonSettings(**{"embeddings": False, **common}))
    await b.start()
    try:
        yield b
    finally:
        await b.stop()


ZONE = {"evil.example": "10.0.0.7", "example.org": "93.184.215.14"}  # this host has no DNS


async def hostile_dns(host: str, port: int) -> list[IPAddress]:
    """The system resolver, except names of ZONE (evil.example: a hostile zone pointing at 10.0.0.7)."""
    return [ipaddress.ip_address(ZONE[host])] if host in ZONE else await resolve(host, port)


REFUSED = [
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("http://127.0.0.1:{port}/hook", "127.0.0.1 is a loopback address"),
    ("http://[::ffff:10.0.0.1]/", "::ffff:10.0.0.1 is an IPv4-mapped IPv6 address"),
    ("http://evil.example:{port}/", "evil.example resolves to a private address (10.0.0.7)"),
    ("http://localhost:{port}/hook", "localhost resolves to a loopback address"),
    ("http://[::1]:{port}/", "::1 is a loopback address"),
    ("http://0x7f000001:{port}/", "0x7f000001 resolves to a loopback address (127.0.0.1)"),
    ("ftp://example.org/", "body.webhook.url: String should match pattern"),  # the schema: https?://
]


async def test_ssrf_targets_are_refused_with_422_saying_why_and_nothing_connects(
    common: dict[str, Any], counter: ConnectionCounter
) -> None:
    port = free_port()
    async with backends(common) as b, served(b, port, allow_http=True) as gw:
        gw.app.state.ctx.subscriptions.resolver = hostile_dns
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
            alice = await mint_key(c, "subscriptions:write", name="alice")
            for url, why in REFUSED:
                body = {"channel": "webhook", "url": url.format(port=counter.port), "events": ["topic.created"]}
                r = await c.post("/v1/subscriptions", json=body, headers=alice)
                assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, (url, r.text)
                detail = r.json()["detail"]
                assert why in detail and detail.startswith(("url: ", "body.webhook.url: ")), (url, detail)
            assert (await c.get("/v1/subscriptions", headers=alice)).json() == {"items": []}
            # https is required unless PAPERWIRE_NOTIFIER_ALLOW_HTTP: the gateway's own settings say so.
            gw.app.state.ctx.subscriptions.settings = gw.app.state.ctx.subscriptions.settings.model_copy(
                update={"allow_http": False}
            )
            body = {"channel": "webhook", "url": "http://example.org/hook", "events": ["topic.created"]}
            r = await c.post("/v1/subscriptions", json=body, headers=alice)
            assert r.status_code == 422 and "http is not allowed" in r.json()["detail"]
    assert counter.connections == 0
    _, writer = await asyncio.open_connection("127.0.0.1", counter.port)  # the counter does count
    writer.close()
    await eventually(lambda: counter.connections == 1, timeout_s=5)


def topic_event(topic_id: str) -> TopicEvent:
    return TopicEvent(
        id=f"topic.created:{topic_id}:1",
        kind="topic.created",
        topic_id=topic_id,
        label="diffusion models for video",
        paper_ids=["arxiv:2401.00001"],
        detected_at=time.time() + 1,
    )


@pytest.mark.timeout(180)
async def test_delivery_log_after_three_503s_then_200_and_ping_and_rotation(
    common: dict[str, Any], receivers: Receivers
) -> None:
    port = free_port()
    flaky = receivers.add(script=[503, 503, 503])
    loopback: dict[str, Any] = {"allow_http": True, "allow_networks": "127.0.0.0/8"}
    async with (
        notify_rig(common) as rig,
        served(rig.backends, port, **loopback),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c,
    ):
        alice = await mint_key(c, "subscriptions:write", name="alice")
        r = await c.post(
            "/v1/subscriptions",
            json={"channel": "webhook", "url": flaky.url, "events": ["topic.created"]},
            headers=alice,
        )
        assert r.status_code == 201, r.text
        created = r.json()
        sid, flaky.secret = created["id"], created["secret"]
        assert flaky.secret.startswith("whsec_") and created["status"] == "active"
        assert "secret" not in (await c.get(f"/v1/subscriptions/{sid}", headers=alice)).json()  # shown once

        ev = topic_event("tp-api")
        await rig.publish_topic(ev)
        await eventually(flaky.ok, timeout_s=30)

        async def attempts(n: int) -> list[dict[str, Any]] | None:
            got = (await c.get(f"/v1/subscriptions/{sid}/deliveries", headers=alice)).json()["attempts"]
            return got if len(got) >= n else None

        log = await eventually(lambda: attempts(4), timeout_s=10)
        assert flaky.answered == [503, 503, 503, 200] and not flaky.rejected
        assert [(a["attempt"], a["outcome"], a["status_code"]) for a in log] == [
            (4, "delivered", 200),
            (3, "retry", 503),
            (2, "retry", 503),
            (1, "retry", 503),
        ]
        (webhook_id,) = {r.headers["webhook-id"] for r in flaky.requests}
        assert {a["webhook_id"] for a in log} == {webhook_id}
        assert {(a["event_type"], a["event_id"]) for a in log} == {("topic.created", ev.id)}
        assert all(a["next_attempt_at"] for a in log[1:]) and log[0]["next_attempt_at"] is None
        assert all(a["latency_ms"] >= 0 and a["error"] is None for a in log)
        assert [a["at"] for a in log] == sorted((a["at"] for a in log), reverse=True)

        # The test ping, signed with the secret.
        r = await c.post(f"/v1/subscriptions/{sid}/test", headers=alice)
        assert r.status_code == 202 and r.json()["event_type"] == "ping"
        await eventually(lambda: len(flaky.ok()) == 2, timeout_s=10)
        assert flaky.requests[-1].payload["type"] == "ping"
        assert flaky.requests[-1].headers["webhook-id"] == r.json()["webhook_id"]

        # Rotation: the new secret, and during the grace period both signatures on every delivery.
        old = flaky.secret
        r = await c.post(f"/v1/subscriptions/{sid}/rotate-secret", headers=alice)
        assert r.status_code == 200, r.text
        flaky.secret = r.json()["secret"]
        assert flaky.secret != old and r.json()["previous_secret_expires_at"]
        await c.post(f"/v1/subscriptions/{sid}/test", headers=alice)
        await eventually(lambda: len(flaky.ok()) == 3, timeout_s=10)
        last = flaky.requests[-1]
        assert not flaky.rejected and len(last.headers["webhook-signature"].split(" ")) == 2
        assert Webhook(old).verify(last.body, last.headers)["type"] == "ping"  # the receiver not yet switched


async def test_an_owner_sees_and_changes_only_its_own(common: dict[str, Any]) -> None:
    port = free_port()
    async with (
        backends(common) as b,
        served(b, port) as gw,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c,
    ):
        gw.app.state.ctx.subscriptions.resolver = hostile_dns
        alice = await mint_key(c, "subscriptions:write", name="alice")
        bob = await mint_key(c, "subscriptions:write", name="bob")
        hook = {"channel": "webhook", "url": "https://example.org/hook", "events": ["topic.created"]}
        r = await c.post("/v1/subscriptions", json=hook, headers=alice)
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        mine = await c.post("/v1/subscriptions", json=hook, headers=bob)
        assert (await c.get("/v1/subscriptions", headers=bob)).json()["items"] == [
            {k: v for k, v in mine.json().items() if k != "secret"}
        ]
        for method, path in [
            ("GET", f"/v1/subscriptions/{sid}"),
            ("DELETE", f"/v1/subscriptions/{sid}"),
            ("POST", f"/v1/subscriptions/{sid}/test"),
            ("POST", f"/v1/subscriptions/{sid}/rotate-secret"),
            ("GET", f"/v1/subscriptions/{sid}/deliveries"),
        ]:
            r = await c.request(method, path, headers=bob)
            assert r.status_code == 404 and r.headers["content-type"] == PROBLEM, (method, path, r.text)
            unknown = await c.request(method, path.replace(sid, "sub_unknown"), headers=bob)
            assert (unknown.status_code, unknown.json()["title"]) == (404, r.json()["title"])  # no difference
            r = await c.request(method, path)
            assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer"), (method, path)
        assert (await c.get(f"/v1/subscriptions/{sid}", headers=alice)).json()["id"] == sid  # untouched
        assert (await c.get("/v1/subscriptions")).status_code == 401
        assert (await c.delete(f"/v1/subscriptions/{sid}", headers=alice)).status_code == 204
        assert (await c.get(f"/v1/subscriptions/{sid}", headers=alice)).status_code == 404
        assert (await c.get("/v1/subscriptions", headers=alice)).json() == {"items": []}
        # The operator's route wants a key with scope admin.
        assert (await c.post("/v1/digests/send")).status_code == 401
        assert (await c.post("/v1/digests/send", headers=alice)).status_code == 403
        assert (await c.post("/v1/digests/send", headers=await mint_key(c, "admin"))).status_code == 200
        # A revoked key owns nothing any more: its subscriptions are out of reach (401), bob's untouched.
        bob_id = (await c.get("/v1/subscriptions", headers=bob)).json()["items"][0]["id"]
        keys = (await c.get("/v1/keys", headers=MASTER_AUTH)).json()["keys"]
        (bob_key,) = [k["id"] for k in keys if k["name"] == "bob"]
        assert (await c.delete(f"/v1/keys/{bob_key}", headers=MASTER_AUTH)).status_code == 204
        assert (await c.get(f"/v1/subscriptions/{bob_id}", headers=bob)).status_code == 401
        assert bob_id in {s.id for s in await gw.app.state.ctx.subscriptions.list_for(bob_key)}
