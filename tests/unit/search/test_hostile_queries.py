"""No query can stall the server: repeated terms collapse, per-query work is bounded by a time budget (the
answer says it was cut short), and the embedded index's blocking work runs off the event loop."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from paperwire_common.search.elastic import ElasticIndex
from paperwire_common.search.embedded import EmbeddedIndex, keyword
from paperwire_common.search.port import SearchRequest
from paperwire_common.search.query import MAX_HIGHLIGHT_CLAUSES, MAX_TYPO_WORDS, parse

HOSTILE = " ".join(["a"] * 500)[:999]
MANY = " ".join(f"w{i:03d}x" for i in range(200))[:999]


def test_a_hostile_query_is_small_once_parsed() -> None:
    pq = parse(HOSTILE)
    assert len(pq.root.should) == 1 and pq.title_phrase is None
    many = parse(MANY)
    assert len(many.typo_words) == MAX_TYPO_WORDS and len(many.highlight) == MAX_HIGHLIGHT_CLAUSES


async def corpus(n: int) -> EmbeddedIndex:
    ix = EmbeddedIndex()
    docs = [
        {"id": f"p{i:04d}", "version": 1, "content_hash": "h", "title": f"A study {i}", "abstract": "a model " * 20}
        for i in range(n)
    ]
    assert await ix.upsert(docs) == []
    return ix


async def test_the_budget_cuts_the_match_short_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    ix = await corpus(300)
    try:
        full = await ix.search(SearchRequest(parse("model"), size=5))
        assert (full.total, full.total_relation, full.timed_out) == (300, "eq", False)
        monkeypatch.setattr(keyword, "CHUNK_ROWS", 10)
        cut = await ix.search(SearchRequest(parse("model"), size=5, budget_s=1e-9))
        assert cut.timed_out and cut.total_relation == "gte" and cut.total < 300
        assert len(cut.hits) == min(5, cut.total)  # what it had: a page of what was found by then
    finally:
        await ix.stop()


async def test_blocking_index_work_leaves_the_event_loop_free(monkeypatch: pytest.MonkeyPatch) -> None:
    ix = await corpus(20)
    real = ix.keyword.search

    def slow(req: SearchRequest) -> Any:
        time.sleep(0.8)  # a slow SQLite statement, holding its thread
        return real(req)

    monkeypatch.setattr(ix.keyword, "search", slow)
    try:
        task = asyncio.create_task(ix.search(SearchRequest(parse(HOSTILE))))
        await asyncio.sleep(0.05)
        t0 = time.monotonic()
        await asyncio.sleep(0.01)  # the loop keeps turning while the search runs
        assert time.monotonic() - t0 < 0.5 and not task.done()
        assert (await task).total == 20
    finally:
        await ix.stop()


async def test_elasticsearch_requests_carry_the_budget() -> None:
    sent: dict[str, Any] = {}

    class FakeES:
        async def search(self, **kw: Any) -> dict[str, Any]:
            sent.update(kw)
            return {"timed_out": True, "hits": {"total": {"value": 7, "relation": "eq"}, "hits": []}}

        async def msearch(self, searches: list[dict[str, Any]]) -> dict[str, Any]:
            return {"responses": [{"hits": {"total": {"value": 1}}} for _ in searches[1::2]]}

    ix = ElasticIndex("http://127.0.0.1:1")
    real, ix.es = ix.es, FakeES()  # type: ignore[assignment]
    ix.known_words.es = ix.es
    try:
        res = await ix.search(SearchRequest(parse(HOSTILE), budget_s=0.25))
        assert sent["timeout"] == "250ms" and res.timed_out and res.total_relation == "gte"
        assert sent["track_total_hits"] == 10_000
        await ix.knn([1.0] + [0.0] * 383, 5, budget_s=0.5)
        assert sent["timeout"] == "500ms"
    finally:
        await real.close()
