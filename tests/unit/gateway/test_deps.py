"""Routes take their collaborators as dependencies (deps.py): tests swap them with app.dependency_overrides, or
call a route function by name with the objects they want; the page size is checked against the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from paperwire_common.backends import make_backends
from paperwire_common.clock import FixedClock, iso
from paperwire_common.settings import CommonSettings
from paperwire_common.trends.service import DailyEntry
from paperwire_gateway import deps, routes_compat, routes_topics, routes_trending
from paperwire_gateway.app import create_app
from paperwire_gateway.settings import GatewaySettings
from tests.conftest import TEST_MASTER_KEY

NOW = 1_767_225_600.0


class FakeTrends:
    """Stands in for TrendReadService: records what the routes asked for."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def trending(self, window: str, topic: str | None, size: int) -> dict[str, Any]:
        self.calls.append(("trending", window, topic, size))
        items = [{"id": f"p{i}", "title": f"Paper {i}", "score": 10.0 - i, "rank": i} for i in range(1, size + 1)]
        return {"window": window, "topic": topic, "as_of": iso(NOW), "items": items}

    async def latest(self, size: int) -> list[dict[str, Any]]:
        return [{"id": "p9", "title": "Newest"}][:size]

    async def explain(self, paper_id: str) -> dict[str, Any] | None:
        return None

    async def daily(self, arrived: tuple[float, float] | None, sort: str, offset: int, limit: int) -> list[DailyEntry]:
        self.calls.append(("daily", arrived, sort, offset, limit))
        item = {
            "id": "arxiv:2601.00001",
            "arxiv_id": "2601.00001",
            "title": "T",
            "abstract": "A",
            "authors": ["Ann"],
            "ingested_at": NOW + 0.25,
        }
        return [DailyEntry(item, 7)]


@pytest.fixture
async def app_and_client() -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    b = make_backends(CommonSettings(backend="embedded"))
    await b.start()
    app = create_app(b, GatewaySettings(max_page_size=5), clock=FixedClock(NOW), master_key=TEST_MASTER_KEY)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield app, c
    await b.stop()


async def test_a_fake_trend_service_serves_the_feeds(app_and_client: tuple[Any, httpx.AsyncClient]) -> None:
    app, c = app_and_client
    fake = FakeTrends()
    app.dependency_overrides[deps.get_trend_service] = lambda: fake
    r = await c.get("/v1/feeds/trending", params={"window": "7d", "topic": "nlp", "size": 3})
    assert r.status_code == 200, r.text
    assert fake.calls == [("trending", "7d", "nlp", 3)]
    assert [i["id"] for i in r.json()["items"]] == ["p1", "p2", "p3"] and r.json()["as_of"] == iso(NOW)
    assert (await c.get("/v1/papers/nope/trending")).status_code == 404  # the fake knows no paper

    daily = (await c.get("/api/daily_papers", params={"date": "2026-01-01", "limit": 2, "p": 3})).json()
    assert fake.calls[-1] == ("daily", (NOW, NOW + 86_400), "publishedAt", 6, 2)  # the day of arrival, page 3
    assert daily == [
        {
            "paper": {
                "id": "2601.00001",
                "title": "T",
                "summary": "A",
                "authors": [{"name": "Ann", "hidden": False}],
                "publishedAt": None,
                "submittedOnDailyAt": "2026-01-01T00:00:00.250Z",
                "upvotes": 7,
                "githubRepo": None,
                "projectPage": None,
                "ai_keywords": [],
                "mediaUrls": [],
            },
            "publishedAt": "2026-01-01T00:00:00.250Z",
            "submittedOnDailyAt": "2026-01-01T00:00:00.250Z",
            "title": "T",
            "summary": "A",
            "numComments": 0,
            "isAuthorParticipating": False,
        }
    ]
    app.dependency_overrides.clear()
    assert (await c.get("/v1/feeds/trending")).json()["items"] == []  # the real (empty) store again


async def test_routes_are_plain_functions_called_by_name() -> None:
    fake = FakeTrends()
    feed = await routes_trending.trending_feed(trends=fake, size=2, window="24h", topic=None)  # type: ignore[arg-type]
    assert [i["rank"] for i in feed["items"]] == [1, 2]
    got = await routes_compat.daily_papers(
        trends=fake,  # type: ignore[arg-type]
        date=None,
        week="2026-W01",
        month=None,
        sort="trending",
        p=0,
        limit=1,
    )
    monday = NOW - 3 * 86_400  # 2026-01-01 is the Thursday of ISO week 2026-W01
    assert got[0]["paper"]["upvotes"] == 7 and fake.calls[-1] == (
        "daily",
        (monday, monday + 7 * 86_400),
        "trending",
        0,
        1,
    )

    class NoTopics:
        async def get_topic(self, topic_id: str, max_papers: int) -> None:
            return None

    with pytest.raises(Exception) as e:
        await routes_topics.get_topic(topics=NoTopics(), topic_id="tp-x", papers=3)  # type: ignore[arg-type]
    assert getattr(e.value, "status_code", None) == 404


@pytest.mark.parametrize("path", ["/v1/search", "/v1/feeds/trending", "/v1/feeds/latest", "/v1/topics"])
async def test_page_size_is_checked_against_the_setting_at_request_time(
    app_and_client: tuple[Any, httpx.AsyncClient], path: str
) -> None:
    app, c = app_and_client
    assert (await c.get(path, params={"size": 5})).status_code == 200
    r = await c.get(path, params={"size": 6})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["errors"] == [{"loc": ["query", "size"], "msg": "Input should be less than or equal to 5"}]
    assert body["detail"] == "query.size: Input should be less than or equal to 5"
    # The document states the configured bound.
    op = app.openapi()["paths"][path]["get"]
    (size,) = [p for p in op["parameters"] if p["name"] == "size"]
    assert size["schema"]["maximum"] == 5 and size["schema"]["minimum"] == 1


async def test_a_default_page_size_above_the_setting_is_not_refused() -> None:
    """As FastAPI never checks a default against its bound: topics (default 50) with max_page_size=5."""
    b = make_backends(CommonSettings(backend="embedded"))
    await b.start()
    try:
        app = create_app(b, GatewaySettings(max_page_size=5), master_key=TEST_MASTER_KEY)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            assert (await c.get("/v1/topics")).status_code == 200
    finally:
        await b.stop()
