"""Keys and quotas while their Redis is unreachable (the kafka backend's stores): a key that cannot be verified is a
503 with Retry-After, quotas fail open, and neither hangs (a listener that never answers: a blackhole)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from redis.asyncio import Redis
from starlette.types import Receive, Scope, Send

from paperwire_common.keys import KeyService
from paperwire_common.keys.redis import RedisKeyStore
from paperwire_common.settings import CommonSettings
from paperwire_gateway.access import Access, Guard
from paperwire_gateway.ratelimit import make_rate_limits
from paperwire_gateway.settings import GatewaySettings
from tests.conftest import TEST_MASTER_KEY, free_port


async def ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture(params=["refused", "blackhole"])
def redis_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "refused":
        yield f"redis://127.0.0.1:{free_port()}/0"
        return
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)  # accepts connections (the kernel's backlog) and never answers: a blackhole
    try:
        yield f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    finally:
        sock.close()


async def test_redis_unreachable(redis_url: str) -> None:
    common = CommonSettings(backend="kafka", redis_url=redis_url)
    settings = GatewaySettings(backend_timeout_s=0.5, retry_after_s=7)
    limits = make_rate_limits(common, settings)
    keys = KeyService(RedisKeyStore(Redis.from_url(redis_url)), TEST_MASTER_KEY)
    app = Access(ok, Guard(keys, limits, timeout_s=0.5, retry_after_s=7), public_reads=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        t0 = time.monotonic()
        r = await c.get("/v1/search")  # anonymous: only the quota needs Redis, and it fails open
        assert r.status_code == 200 and "ratelimit" not in r.headers
        r = await c.get("/v1/search", headers={"Authorization": "Bearer pw_not_verifiable"})
        assert r.status_code == 503 and r.headers["retry-after"] == "7", r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["unavailable"] == "redis"
        # The master key needs no store; and while the breaker is open nothing waits for Redis.
        r = await c.get("/v1/search", headers={"Authorization": f"Bearer {TEST_MASTER_KEY}"})
        assert r.status_code == 200
        for _ in range(5):
            assert (await c.get("/v1/search")).status_code == 200
        assert time.monotonic() - t0 < 3, "at most one bounded wait per part, then the breaker answers"
    await asyncio.sleep(0)
