"""Engagement in, trending feeds out, through the gateway on the embedded backends."""

from __future__ import annotations

import time

import httpx

from paperwire_gateway.app import create_app
from tests.conftest import MASTER_AUTH, SAMPLE, TEST_MASTER_KEY

from .pipeline import pipeline


async def test_events_to_trending_feed_explain_and_daily_papers() -> None:
    async with pipeline("embedded", workers=("enricher", "indexer", "trending")) as p:
        await p.ingest(str(SAMPLE))
        await p.settle()
        app = create_app(p.backends, master_key=TEST_MASTER_KEY)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t", headers=MASTER_AUTH
        ) as c:
            ids = sorted(await p.backends.index.snapshot())
            hot, warm = ids[7], ids[42]
            now = time.time()
            evs = [{"paper_id": hot, "type": "upvote", "actor_id": f"u{i}", "ts": now - 60} for i in range(10)]
            evs += [{"paper_id": warm, "type": "view", "actor_id": f"u{i}", "ts": now - 60} for i in range(10)]
            evs += [{"paper_id": hot, "type": "upvote", "actor_id": "u0", "ts": now - 30}]  # same actor again
            r = await c.post("/v1/events", json=evs)
            assert r.status_code == 202, r.text
            await p.settle()

            feed = (await c.get("/v1/feeds/trending", params={"window": "24h", "size": 5})).json()
            assert [i["id"] for i in feed["items"][:2]] == [hot, warm]
            assert feed["items"][0]["score"] > feed["items"][1]["score"] > feed["items"][2]["score"]

            ex = (await c.get(f"/v1/papers/{hot}/trending")).json()
            up = ex["windows"]["24h"]["breakdown"]["upvote"]
            assert up["count"] == 10, "an actor's upvote counts once"
            assert up["weight"] == 5.0 and 0 < up["score"] <= 50
            total = sum(b["score"] for b in ex["windows"]["24h"]["breakdown"].values())
            assert abs(total - ex["windows"]["24h"]["score"]) < 1e-6 * total, "the breakdown adds up to the score"

            daily = (await c.get("/api/daily_papers", params={"limit": 3, "sort": "trending"})).json()
            assert daily[0]["paper"]["id"] == hot and daily[0]["paper"]["upvotes"] == 10
            assert set(daily[0]) >= {"paper", "title", "summary", "publishedAt", "numComments"}

            latest = (await c.get("/v1/feeds/latest", params={"size": 5})).json()
            assert len(latest["items"]) == 5

            bad = await c.get("/v1/feeds/trending", params={"window": "1y"})
            assert bad.status_code == 422
            assert (await c.get("/v1/papers/nope/trending")).status_code == 404
