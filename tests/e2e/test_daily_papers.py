"""`/api/daily_papers` serves Hugging Face's clients: huggingface_hub's own parser (`PaperInfo`, what
`HfApi.list_daily_papers` yields) reads our answer, a paper's day is the day it arrived, and date/week/month,
sort, p and limit behave as on Hugging Face."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from huggingface_hub.hf_api import PaperInfo

from paperwire_gateway.app import create_app
from tests.conftest import MASTER_AUTH, ROOT, SAMPLE, TEST_MASTER_KEY

from .pipeline import Pipeline, pipeline

pytestmark = pytest.mark.asyncio(loop_scope="module")
HF_FIXTURE = ROOT / "tests" / "fixtures" / "sources" / "daily_papers.json"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def seeded() -> AsyncIterator[Pipeline]:
    async with pipeline("embedded", workers=("enricher", "indexer", "trending")) as p:
        await p.ingest(str(SAMPLE))
        await p.ingest(str(HF_FIXTURE))  # Hugging Face's own answer, ingested (arXiv ids, dates, code links)
        await p.settle()
        yield p


@pytest_asyncio.fixture(loop_scope="module")
async def client(seeded: Pipeline) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(seeded.backends, master_key=TEST_MASTER_KEY)), base_url="http://t"
    ) as c:
        yield c


async def daily(c: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    r = await c.get("/api/daily_papers", params=params)
    assert r.status_code == 200, r.text
    body: list[dict[str, Any]] = r.json()
    return body


async def arrival_day(seeded: Pipeline) -> dt.date:
    doc = await seeded.backends.index.get(sorted(await seeded.backends.index.snapshot())[0])
    assert doc is not None
    return dt.datetime.fromtimestamp(doc["ingested_at"], dt.UTC).date()


async def test_huggingface_hub_parses_every_field_it_reads(client: httpx.AsyncClient) -> None:
    hf = {p["paper"]["id"]: p for p in json.loads(HF_FIXTURE.read_text())}
    entries = await daily(client, limit=100)
    ours = {e["paper"]["id"]: e for e in entries}
    assert set(hf) <= set(ours), "the arXiv id is the paper's id, as on Hugging Face"
    for pid, theirs in hf.items():
        mine = ours[pid]
        info = PaperInfo(**json.loads(json.dumps(mine)))  # the parser pops what it reads: give it a copy
        assert info.id == pid and info.title == theirs["title"]
        assert [a.name for a in info.authors or []] == [a["name"] for a in theirs["paper"]["authors"]]
        assert info.published_at == dt.datetime.fromisoformat(theirs["paper"]["publishedAt"].replace("Z", "+00:00"))
        assert isinstance(info.submitted_at, dt.datetime) and info.submitted_at.tzinfo is not None
        assert abs(info.submitted_at.timestamp() - time.time()) < 3600, "on our list the day it arrived here"
        assert info.summary and theirs["paper"]["summary"].startswith(info.summary[:40])
        assert info.comments == 0 and info.upvotes in (None, 0)  # no upvotes here yet (the parser reads 0 as None)
        p = mine["paper"]
        assert p["githubRepo"] == theirs["paper"].get("githubRepo")
        assert mine["publishedAt"] == p["submittedOnDailyAt"] and p["submittedOnDailyAt"].endswith("Z")
        assert isinstance(p["ai_keywords"], list) and p["authors"][0]["hidden"] is False
    for e in entries:  # every entry, also those with no publication date
        info = PaperInfo(**json.loads(json.dumps(e)))
        assert info.submitted_at is not None and info.title


async def test_the_day_is_the_day_of_arrival_and_week_month_select_it(
    client: httpx.AsyncClient, seeded: Pipeline
) -> None:
    day = await arrival_day(seeded)
    today = await daily(client, date=day.isoformat(), limit=100)
    assert len(today) == 100, "the sample arrived today: today's list is not empty"
    pages = [await daily(client, date=day.isoformat(), limit=100, p=p) for p in range(4)]
    ids = [e["paper"]["id"] for page in pages for e in page]
    assert len(ids) == len(set(ids)) == 250 and pages[3] == [], "247 sample papers + 3 from Hugging Face, paged"
    stamps = [e["publishedAt"] for page in pages for e in page]
    assert stamps == sorted(stamps, reverse=True), "sort=publishedAt: newest arrival first"
    year, week, _ = day.isocalendar()
    assert len(await daily(client, week=f"{year}-W{week:02d}", limit=100, p=2)) == 50
    assert len(await daily(client, month=day.strftime("%Y-%m"), limit=100, p=2)) == 50
    assert await daily(client, date=(day - dt.timedelta(days=1)).isoformat()) == []
    assert await daily(client, date="9999-12-31") == [], "the last day there is, no overflow"
    assert await daily(client, month="9999-12") == []
    assert len(await daily(client)) == 50, "no date: the most recent, 50 by default"


async def test_trending_sort_within_a_day(client: httpx.AsyncClient, seeded: Pipeline) -> None:
    day = (await arrival_day(seeded)).isoformat()
    last = (await daily(client, date=day, limit=100, p=2))[-1]["paper"]["id"]
    pid = next(i for i in await seeded.backends.index.snapshot() if i.removeprefix("arxiv:") == last or i == last)
    evs = [{"paper_id": pid, "type": "upvote", "actor_id": f"d{i}", "ts": time.time()} for i in range(4)]
    assert (await client.post("/v1/events", json=evs, headers=MASTER_AUTH)).status_code == 202
    await seeded.settle()
    top = await daily(client, date=day, sort="trending", limit=3)
    assert top[0]["paper"]["id"] == last and top[0]["paper"]["upvotes"] == 4
    assert (await daily(client, sort="trending", limit=1))[0]["paper"]["id"] == last


@pytest.mark.parametrize(
    "params",
    [
        {"date": "2026-01-01", "week": "2026-W01"},
        {"week": "2026-W60"},
        {"week": "2026-1"},
        {"month": "2026-13"},
        {"date": "2026-02-30"},
        {"p": 20, "limit": 50},
        {"p": -1},
        {"limit": 101},
        {"sort": "upvotes"},
    ],
)
async def test_bad_parameters_are_422_problems(client: httpx.AsyncClient, params: dict[str, Any]) -> None:
    r = await client.get("/api/daily_papers", params=params)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
