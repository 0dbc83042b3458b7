"""Quotas (RateLimit headers on every answer, 429 with Retry-After above the quota), per key and per client
address; CORS from the settings; the master key (generated into the data dir, required on kafka)."""

from __future__ import annotations

import re
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from paperwire_common.backends import make_backends
from paperwire_common.keys.master import FILE, MasterKeyMissing, resolve_master_key
from paperwire_common.settings import CommonSettings
from paperwire_gateway.app import create_app
from paperwire_gateway.settings import GatewaySettings
from tests.conftest import MASTER_AUTH, TEST_MASTER_KEY

RATE = re.compile(r'^"(key|anonymous)";r=(\d+);t=(\d+)$')


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    b = make_backends(CommonSettings(backend="embedded"))
    await b.start()
    settings = GatewaySettings(rate_limit_anonymous="3/minute", rate_limit_key="5/minute")
    app = create_app(b, settings, master_key=TEST_MASTER_KEY)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c
    await b.stop()


async def test_anonymous_quota_per_address(client: httpx.AsyncClient) -> None:
    remaining = []
    for _ in range(3):
        r = await client.get("/v1/feeds/latest")
        assert r.status_code == 200 and r.headers["ratelimit-policy"] == '"anonymous";q=3;w=60'
        m = RATE.match(r.headers["ratelimit"])
        assert m and m.group(1) == "anonymous"
        remaining.append(int(m.group(2)))
    assert remaining == [2, 1, 0]
    r = await client.get("/v1/search", params={"q": "x"})
    assert r.status_code == 429 and r.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(r.headers["retry-after"]) <= 60 and RATE.match(r.headers["ratelimit"])
    assert "client address" in r.json()["detail"]
    # Another address has its own quota; probes never spend one.
    other = httpx.ASGITransport(app=client._transport.app, client=("10.0.0.2", 1234))  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=other, base_url="http://t") as c2:
        assert (await c2.get("/v1/feeds/latest")).status_code == 200
    for _ in range(5):
        r = await client.get("/healthz")
        assert r.status_code == 200 and "ratelimit" not in r.headers
    # Made-up keys spend the address's quota too (then 429, not another 401).
    r = await client.get("/v1/feeds/latest", headers={"Authorization": "Bearer pw_guess"})
    assert r.status_code == 429


async def test_a_key_has_its_own_quota_and_the_master_key_none(client: httpx.AsyncClient) -> None:
    made = await client.post("/v1/keys", json={"name": "a", "scopes": ["events:write"]}, headers=MASTER_AUTH)
    key = {"Authorization": f"Bearer {made.json()['key']}"}
    for _ in range(4):
        await client.get("/v1/feeds/latest")  # the anonymous quota is spent ...
    statuses = [(await client.get("/v1/feeds/latest", headers=key)).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429], "... the key's is not: 5 a minute"
    r = await client.get("/v1/feeds/latest", headers=key)
    assert r.headers["ratelimit-policy"] == '"key";q=5;w=60'
    for _ in range(10):
        r = await client.get("/v1/feeds/latest", headers=MASTER_AUTH)
        assert r.status_code == 200 and "ratelimit" not in r.headers


async def test_rate_limits_off() -> None:
    b = make_backends(CommonSettings(backend="embedded"))
    app = create_app(b, GatewaySettings(rate_limits=False, rate_limit_anonymous="1/minute"), master_key=TEST_MASTER_KEY)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        for _ in range(3):
            r = await c.get("/v1/feeds/latest")
            assert r.status_code == 200 and "ratelimit" not in r.headers
    assert "429" not in app.openapi()["paths"]["/v1/search"]["get"]["responses"]


@pytest.mark.parametrize("origins", ["", "https://app.example"])
async def test_cors_only_for_configured_origins(origins: str) -> None:
    b = make_backends(CommonSettings(backend="embedded"))
    app = create_app(b, GatewaySettings(cors_origins=origins), master_key=TEST_MASTER_KEY)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        pre = await c.options(
            "/v1/events",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        r = await c.get("/v1/feeds/latest", headers={"Origin": "https://app.example"})
        evil = await c.get("/v1/feeds/latest", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in evil.headers
    if not origins:
        assert "access-control-allow-origin" not in r.headers and pre.status_code == 405
        return
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "https://app.example"
    assert "authorization" in pre.headers["access-control-allow-headers"].lower()
    assert r.headers["access-control-allow-origin"] == "https://app.example"
    assert "RateLimit" in r.headers["access-control-expose-headers"]


def test_the_master_key_is_generated_into_the_data_dir(tmp_path: Path) -> None:
    s = CommonSettings(backend="embedded", embedded_data_dir=str(tmp_path / "data"))
    key = resolve_master_key(s)
    path = tmp_path / "data" / FILE
    assert len(key) >= 32 and path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, "readable by its owner only"
    assert resolve_master_key(s) == key, "the same key on the next start"
    assert resolve_master_key(s.model_copy(update={"master_key": SecretStr("x" * 20)})) == "x" * 20


def test_the_kafka_backend_needs_a_master_key() -> None:
    with pytest.raises(MasterKeyMissing, match="PAPERWIRE_MASTER_KEY"):
        resolve_master_key(CommonSettings(backend="kafka"))


def test_a_generated_master_key_is_never_logged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = resolve_master_key(CommonSettings(backend="embedded", embedded_data_dir=str(tmp_path)))
    out = capsys.readouterr()
    assert FILE in out.out + out.err and key not in out.out + out.err
