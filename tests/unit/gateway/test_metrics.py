"""HTTP metrics are labelled by route template, method and status."""

from __future__ import annotations

import httpx
from prometheus_client import REGISTRY

from paperwire_common.backends import make_backends
from paperwire_common.settings import CommonSettings
from paperwire_gateway.app import create_app
from tests.conftest import TEST_MASTER_KEY


def count(route: str, status: str) -> float:
    v = REGISTRY.get_sample_value("paperwire_http_requests_total", {"route": route, "method": "GET", "status": status})
    return v or 0.0


async def test_requests_are_counted_per_route_template() -> None:
    b = make_backends(CommonSettings(backend="embedded"))
    await b.start()
    try:
        await b.index.upsert([{"id": "p1", "version": 1, "content_hash": "h", "title": "Runs fast", "abstract": "x"}])
        before = (
            count("/v1/papers/{paper_id}", "200"),
            count("/v1/papers/{paper_id}", "404"),
            count("unmatched", "404"),
        )
        transport = httpx.ASGITransport(app=create_app(b, master_key=TEST_MASTER_KEY))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert (await c.get("/v1/papers/p1")).status_code == 200
            assert (await c.get("/v1/papers/nope")).status_code == 404
            assert (await c.get("/no/such/path")).status_code == 404
        after = (
            count("/v1/papers/{paper_id}", "200"),
            count("/v1/papers/{paper_id}", "404"),
            count("unmatched", "404"),
        )
        assert [a - b for a, b in zip(after, before, strict=True)] == [1.0, 1.0, 1.0]
    finally:
        await b.stop()
