"""Hostile input to the subscription routes (hand-made, beside the schemathesis runs): every answer is a 4xx
problem+json (or the documented page) saying what is wrong, never a 5xx, and nothing is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from paperwire_common.backends import make_backends
from paperwire_common.keys import KeyRecord
from paperwire_common.settings import CommonSettings
from paperwire_common.subscriptions.service import ANONYMOUS
from paperwire_common.subscriptions.settings import NotifySettings
from paperwire_gateway.app import create_app
from paperwire_gateway.settings import GatewaySettings
from tests.conftest import MASTER_AUTH, TEST_MASTER_KEY, mint_key

HOOK = {"channel": "webhook", "events": ["topic.created"]}
PUBLIC = "https://93.184.215.14/hook"  # a public address literal: no DNS needed
LONG_LABEL = "a" * 70  # more than the 63 characters a DNS label (and IDNA) allows


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    b = make_backends(CommonSettings(backend="embedded", embeddings=False))
    await b.start()
    app = create_app(b, master_key=TEST_MASTER_KEY, notify_settings=NotifySettings(allow_http=True))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c
    await b.stop()


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> dict[str, str]:
    return await mint_key(client, "subscriptions:write", name="alice")


def problem(r: httpx.Response, status: int, detail: str = "") -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert detail in r.json()["detail"], r.json()


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({**HOOK, "url": f"http://{LONG_LABEL}.example/hook"}, "does not resolve"),
        ({**HOOK, "url": "https://bücher.invalid/hook"}, "does not resolve"),
        ({**HOOK, "url": "http://[::1/hook"}, "not a valid URL"),
        ({**HOOK, "url": "http://127.0.0.1:99999/"}, "not a valid URL"),
        ({**HOOK, "url": "http://user:pw@127.0.0.1/"}, "loopback"),
        ({**HOOK, "url": "http://[fe80::1%25eth0]/"}, "link-local"),
        ({**HOOK, "url": "http://127.1/"}, "not a canonical IP"),
        ({**HOOK, "url": "http:///nohost"}, "has no host"),
        ({**HOOK, "url": "https://x/" + "a" * 3000}, "body.webhook.url: String should have at most 2048"),
        ({**HOOK, "url": "javascript:alert(1)"}, "body.webhook.url: String should match pattern"),
        ({**HOOK, "url": "http://\u0000/"}, "does not resolve"),
        ({**HOOK, "url": PUBLIC, "events": []}, "body.webhook.events"),
        ({**HOOK, "url": PUBLIC, "events": ["ping"]}, "body.webhook.events"),
        ({**HOOK, "url": PUBLIC, "events": ["search.match"]}, "query: search.match needs"),
        ({**HOOK, "url": PUBLIC, "query": "(" * 20 + "a" + ")" * 20}, "nested deeper"),
        ({**HOOK, "url": PUBLIC, "query": 'title:"'}, "unbalanced quote"),
        ({**HOOK, "url": PUBLIC, "query": "*"}, "has no term"),
        ({**HOOK, "url": PUBLIC, "query": "x" * 1001}, "body.webhook.query"),
        ({**HOOK, "url": PUBLIC, "topics": [""]}, "body.webhook.topics"),
        ({**HOOK, "url": PUBLIC, "positivePaperIds": ["p"] * 501}, "positivePaperIds"),
        ({**HOOK, "url": PUBLIC, "secret": "whsec_AAAA"}, "body.webhook.secret"),
        ({"channel": "email", "email": "a@b"}, "body.email.email"),
        ({"channel": "email", "email": "<script>@x.org"}, "body.email.email"),
        ({"channel": "email", "email": "x@" + "a" * 400 + ".org"}, "body.email.email"),
        ({"channel": "email", "email": "a@b.org", "events": ["topic.created"]}, "body.email.events"),
        ({"channel": "email", "email": "a@b.org", "schedule": "hourly"}, "body.email.schedule"),
        ({"channel": "sms"}, "does not match any of the expected tags"),
        ({"channel": None}, "body"),
        ([], "body"),
        ("webhook", "body"),
    ],
)
async def test_create_refuses_hostile_bodies_with_a_reason(
    client: httpx.AsyncClient, alice: dict[str, str], body: Any, detail: str
) -> None:
    problem(await client.post("/v1/subscriptions", json=body, headers=alice), 422, detail)
    assert (await client.get("/v1/subscriptions", headers=alice)).json() == {"items": []}


@pytest.mark.parametrize(
    ("content", "ctype", "status"),
    [
        (b"{", "application/json", 422),
        (b"\xff\xfe\x00", "application/json", 400),
        (b"", "application/json", 422),
        (b"channel=webhook", "application/x-www-form-urlencoded", 415),
        (b'{"channel": "email", "email": "a@b.org"}', "text/plain", 415),
        (b'{"channel": "webhook", "url": "https://e.org", "events": ["topic.created"]' * 5000, "application/json", 413),
    ],
)
async def test_broken_bodies(
    client: httpx.AsyncClient, alice: dict[str, str], content: bytes, ctype: str, status: int
) -> None:
    for path in ("/v1/subscriptions", "/v1/subscriptions/email"):
        r = await client.post(path, content=content, headers={**alice, "Content-Type": ctype})
        assert r.status_code == status and r.headers["content-type"] == "application/problem+json", (path, r.text)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer "}, {"Authorization": "Basic YTpi"}, {"Authorization": "bearer"}, {"X": "y"}],
)
async def test_no_credential_is_401_with_the_challenge(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    r = await client.get("/v1/subscriptions", headers=headers)
    problem(r, 401)
    assert r.headers["www-authenticate"].startswith('Bearer realm="paperwire"')
    problem(await client.post("/v1/digests/send", headers=headers), 401)
    problem(await client.post("/v1/digests/send", headers={"Authorization": "Bearer " + "x" * 3000}), 401, "unknown")


async def test_subscriptions_need_their_scope_and_the_digest_run_admin(client: httpx.AsyncClient) -> None:
    events_only = await mint_key(client, "events:write")
    problem(await client.get("/v1/subscriptions", headers=events_only), 403, "subscriptions:write")
    subscriber = await mint_key(client, "subscriptions:write")
    problem(await client.post("/v1/digests/send", headers=subscriber), 403, "admin")
    r = await client.post("/v1/digests/send", headers=await mint_key(client, "admin"))
    assert r.status_code == 200 and r.json()["queued"] == 0, r.text


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/subscriptions/" + "x" * 65, 422),
        ("GET", "/v1/subscriptions/..%2F..%2Fetc", 404),
        ("GET", "/v1/subscriptions/%00", 404),
        ("DELETE", "/v1/subscriptions/sub_%E2%98%83", 404),
        ("GET", "/v1/subscriptions/sub_1/deliveries?size=0", 422),
        ("GET", "/v1/subscriptions/sub_1/deliveries?size=1001", 422),
        ("GET", "/v1/subscriptions/sub_1/deliveries?size=1e9", 422),
        ("GET", "/v1/subscriptions/sub_1/confirm", 422),
        ("GET", "/v1/subscriptions/sub_1/confirm?token=", 422),
        ("GET", "/v1/subscriptions/sub_1/confirm?token=" + "t" * 201, 422),
        ("GET", "/v1/subscriptions/sub_1/confirm?token=%E2%98%83", 404),
        ("GET", "/v1/subscriptions/sub_1/unsubscribe?token=%00", 404),
        ("POST", "/v1/subscriptions/sub_1/unsubscribe?token=abc", 404),
        ("POST", "/v1/subscriptions/sub_1/unsubscribe", 422),
    ],
)
async def test_hostile_paths_and_tokens(
    client: httpx.AsyncClient, alice: dict[str, str], method: str, path: str, status: int
) -> None:
    problem(await client.request(method, path, headers=alice), status)


async def test_no_key_owns_the_anonymous_sign_ups(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/subscriptions/email", json={"email": "reader@example.org"})
    assert r.status_code == 202, r.text
    svc = client._transport.app.state.ctx.subscriptions  # type: ignore[attr-defined]
    assert [s.email for s in await svc.list_for(ANONYMOUS)] == ["reader@example.org"]
    named = await mint_key(client, "subscriptions:write", name=ANONYMOUS)  # a name is no id
    assert (await client.get("/v1/subscriptions", headers=named)).json() == {"items": []}
    assert (await client.get("/v1/subscriptions", headers=MASTER_AUTH)).json() == {"items": []}
    with pytest.raises(ValidationError):
        KeyRecord(id=ANONYMOUS, name="x", scopes=("admin",), prefix="pw_", hash="h", created_at=0.0)


async def test_the_emailed_links_and_the_sign_up_need_no_key_when_reads_do() -> None:
    b = make_backends(CommonSettings(backend="embedded", embeddings=False))
    await b.start()
    app = create_app(b, GatewaySettings(public_reads=False), master_key=TEST_MASTER_KEY)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.post("/v1/subscriptions/email", json={"email": "r@example.org"})).status_code == 202
        (sub,) = await app.state.ctx.subscriptions.store.list()
        unsubscribe = f"/v1/subscriptions/{sub.id}/unsubscribe?token={sub.unsubscribe_token}"
        assert (await c.get(unsubscribe)).status_code == 200, "the e-mailed page: its token is the credential"
        confirm = await c.get(f"/v1/subscriptions/{sub.id}/confirm", params={"token": sub.confirm_token})
        assert confirm.status_code == 200 and "confirmed" in confirm.text
        assert (await c.get("/v1/subscriptions")).status_code == 401
        assert (await c.get(f"/v1/subscriptions/{sub.id}")).status_code == 401
        assert (await c.post(unsubscribe)).status_code == 200
        paths = app.openapi()["paths"]
        assert paths["/v1/subscriptions/{subscription_id}/confirm"]["get"]["security"] == [{}, {"bearerKey": []}]
        assert paths["/v1/subscriptions/email"]["post"]["security"] == [{}, {"bearerKey": []}]
        assert paths["/v1/subscriptions"]["get"]["security"] == [{"bearerKey": []}]
    await b.stop()


async def test_the_sign_up_spends_the_anonymous_quota() -> None:
    b = make_backends(CommonSettings(backend="embedded", embeddings=False))
    await b.start()
    app = create_app(b, GatewaySettings(rate_limit_anonymous="2/minute"), master_key=TEST_MASTER_KEY)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        for i in range(2):
            r = await c.post("/v1/subscriptions/email", json={"email": f"r{i}@example.org"})
            assert r.status_code == 202 and r.headers["ratelimit-policy"] == '"anonymous";q=2;w=60', r.text
        r = await c.post("/v1/subscriptions/email", json={"email": "r3@example.org"})
        problem(r, 429, "client address")
        assert int(r.headers["retry-after"]) > 0
    assert len(await app.state.ctx.subscriptions.store.list()) == 2, "the third sign-up stored nothing"
    await b.stop()


async def test_the_sign_up_path_is_no_subscription_id(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    # OpenAPI matches the concrete /v1/subscriptions/email before /v1/subscriptions/{subscription_id}.
    for method in ("GET", "DELETE", "OPTIONS"):
        r = await client.request(method, "/v1/subscriptions/email", headers=alice)
        problem(r, 405)
        assert r.headers["allow"] == "POST"
    problem(await client.get("/v1/subscriptions/emails", headers=alice), 404, "no subscription")
    problem(await client.get("/v1/subscriptions/email/deliveries", headers=alice), 404, "no subscription")


async def test_pages_escape_what_they_show(client: httpx.AsyncClient) -> None:
    svc = client._transport.app.state.ctx.subscriptions  # type: ignore[attr-defined]
    await svc.sign_up("a&b@example.org")
    (sub,) = await svc.store.list()
    r = await client.get(f"/v1/subscriptions/{sub.id}/confirm", params={"token": sub.confirm_token})
    assert r.status_code == 200 and "a&b@" not in r.text and "a&amp;b@example.org" in r.text
    assert "default-src 'none'" in r.headers["content-security-policy"]
