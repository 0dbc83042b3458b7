"""The read side of trends (paperwire_common.trends.service): feed items with their score's parts, and a set of
papers (a topic's members) ranked by score."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from paperwire_common.clock import FixedClock
from paperwire_common.search.port import SearchIndex
from paperwire_common.trends.service import TrendReadService
from paperwire_common.trends.settings import TrendSettings

from .feed import Feed, H, T


class _Index:
    def __init__(self, ids: list[str]) -> None:
        self.docs = {i: {"id": i, "title": f"Paper {i}", "summary": f"summary {i}", "embedding": [0.1]} for i in ids}

    async def get(self, paper_id: str) -> dict[str, Any] | None:
        return self.docs.get(paper_id)

    async def get_many(self, paper_ids: Sequence[str], fields: tuple[str, ...] | None = None) -> dict[str, Any]:
        keys = fields or ("id", "title")
        return {p: {k: self.docs[p][k] for k in keys if k in self.docs[p]} for p in paper_ids if p in self.docs}


async def _service() -> tuple[Feed, TrendReadService]:
    f = Feed(now=T + H)
    await f.run(*(f.paper(p, T) for p in ("p:a", "p:b", "p:c")))
    await f.run(
        *(f.eng("upvote", "p:b", T + H - 60, actor=f"u{i}") for i in range(3)),
        f.eng("view", "p:b", T + H - 30, actor="v1"),
        f.eng("upvote", "p:c", T + H - 60, actor="u1"),
    )
    index = cast(SearchIndex, _Index(["p:a", "p:b", "p:c"]))
    return f, TrendReadService(f.store, index, TrendSettings(), FixedClock(T + H))


async def test_feed_items_carry_their_windows_parts_when_asked() -> None:
    _, svc = await _service()
    plain = await svc.trending("24h", None, 5)
    assert [i["id"] for i in plain["items"]] == ["p:b", "p:c", "p:a"]
    assert "breakdown" not in plain["items"][0] and plain["items"][0]["summary"] == "summary p:b"
    got = (await svc.trending("24h", None, 5, parts=True))["items"]
    parts = got[0]["breakdown"]
    assert set(parts) == {"upvote", "view", "prior"}
    assert parts["upvote"]["count"] == 3 and parts["upvote"]["weight"] == 5.0
    assert abs(sum(p["score"] for p in parts.values()) - got[0]["score"]) < 1e-9 * got[0]["score"]
    assert set(got[2]["breakdown"]) == {"prior"}


async def test_rank_papers_orders_a_set_by_score_and_drops_unknown_papers() -> None:
    f, svc = await _service()
    now = T + H
    ranked = await svc.rank_papers(["p:a", "p:c", "p:b", "p:gone"], "7d", 10, now)
    assert [(i["id"], i["rank"]) for i in ranked] == [("p:b", 1), ("p:c", 2), ("p:a", 3)]
    assert ranked[0]["score"] == (await f.store.scores("p:b", now))["7d"]
    assert "embedding" not in ranked[0]
    assert [i["id"] for i in await svc.rank_papers(["p:a", "p:b"], "24h", 1, now, parts=True)] == ["p:b"]
