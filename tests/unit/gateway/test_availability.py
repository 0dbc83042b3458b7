"""A backend that does not answer makes a 503 with Retry-After naming it — not a hang, not a 500 — and the
gateway recovers by itself once it is back; /readyz names the failing part."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest
from elastic_transport import ConnectionError as EsConnectionError

from paperwire_common.backends import Backends, make_backends
from paperwire_common.bus.port import Message
from paperwire_common.settings import CommonSettings
from paperwire_gateway.app import create_app
from paperwire_gateway.settings import GatewaySettings
from tests.conftest import MASTER_AUTH, TEST_MASTER_KEY

PAPER = "arxiv:2301.00001"
EVENT = {"paper_id": PAPER, "type": "view", "actor_id": "u1", "ts": time.time() - 60}  # within the horizon


class Broker:
    """Wraps the bus: while `down`, a publish waits forever (a blackholed broker) and `ready()` never answers."""

    def __init__(self, bus: Any) -> None:
        self.bus, self.down, self.attempts = bus, False, 0

    async def publish(self, messages: Sequence[Message]) -> None:
        self.attempts += 1
        if self.down:
            await asyncio.sleep(3600)
        await self.bus.publish(messages)

    async def ready(self) -> bool:
        if self.down:
            await asyncio.sleep(3600)
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bus, name)


@pytest.fixture
async def env() -> AsyncIterator[tuple[httpx.AsyncClient, Backends, Broker]]:
    b = make_backends(CommonSettings(backend="embedded"))
    await b.start()
    await b.index.upsert([{"id": PAPER, "version": 1, "content_hash": "h", "title": "A paper", "abstract": "x"}])
    broker = Broker(b.bus)
    b.bus = broker
    app = create_app(b, GatewaySettings(backend_timeout_s=0.3, retry_after_s=2), master_key=TEST_MASTER_KEY)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=MASTER_AUTH) as c:
        yield c, b, broker
    await b.stop()


async def test_writes_answer_503_with_retry_after_while_kafka_does_not_answer(
    env: tuple[httpx.AsyncClient, Backends, Broker],
) -> None:
    c, _, broker = env
    broker.down = True
    t0 = time.monotonic()
    r = await c.post("/v1/events", json=EVENT)
    assert r.status_code == 503 and time.monotonic() - t0 < 2, "bounded by backend_timeout_s, not a hang"
    assert r.headers["retry-after"] == "2" and r.headers["content-type"] == "application/problem+json"
    assert r.json()["unavailable"] == "kafka" and "did not answer" in r.json()["detail"]
    # Known down: the next write fails at once, without another attempt on the broker.
    attempts = broker.attempts
    t0 = time.monotonic()
    assert (await c.post("/v1/events", json=EVENT)).status_code == 503
    assert time.monotonic() - t0 < 0.2 and broker.attempts == attempts
    ready = await c.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["bus"] is False and "bus" in ready.json()["failing"]
    # Back: after Retry-After the write goes through and readiness recovers, by itself.
    broker.down = False
    await asyncio.sleep(2.1)
    r = await c.post("/v1/events", json=EVENT)
    assert r.status_code == 202, r.text
    assert (await c.get("/readyz")).status_code == 200


async def test_elasticsearch_unreachable_is_a_503_naming_it(
    env: tuple[httpx.AsyncClient, Backends, Broker], monkeypatch: pytest.MonkeyPatch
) -> None:
    c, b, _ = env

    async def refused(*_: Any, **__: Any) -> Any:
        raise EsConnectionError("Cannot connect to host 127.0.0.1:9200")

    monkeypatch.setattr(b.index, "get_versions", refused)
    monkeypatch.setattr(b.index, "search", refused)
    r = await c.post("/v1/events", json=EVENT)
    assert r.status_code == 503 and r.json()["unavailable"] == "elasticsearch" and r.headers["retry-after"] == "2"
    # A route that does not bound its calls itself still answers 503, not 500.
    r = await c.get("/v1/search", params={"q": "paper"})
    assert r.status_code == 503 and r.json()["unavailable"] == "elasticsearch", r.text
