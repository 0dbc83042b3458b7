"""The read side of topics (paperwire_common.topics.service): listing orders and one topic with its papers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from paperwire_common.search.port import SearchIndex
from paperwire_common.topics import MemoryTopicStore, TopicRecord
from paperwire_common.topics.service import TopicReadService


class _Index:
    def __init__(self, docs: dict[str, dict[str, Any]]) -> None:
        self.docs = docs

    async def get_many(self, paper_ids: Sequence[str], fields: tuple[str, ...] | None = None) -> dict[str, Any]:
        assert fields is not None and len(paper_ids) <= 500
        return {p: {k: self.docs[p][k] for k in fields if k in self.docs[p]} for p in paper_ids if p in self.docs}


def record(tid: str, size: int, z: float, created: float) -> TopicRecord:
    return TopicRecord.model_validate(
        {
            "id": tid,
            "label": f"label {tid}",
            "keyphrases": ["a", "b"],
            "members": [f"{tid}:{i}" for i in range(size)],
            "size": size,
            "cohesion": 0.5,
            "created_at": created,
            "updated_at": created,
            "trend": {
                "window": 1,
                "recent": 2,
                "baseline": 1.0,
                "std": 0.0,
                "z": z,
                "lift": None,
                "history": 3,
                "arrivals": [1, 1, 1, 2],
                "bursting": False,
            },
        }
    )


async def test_list_and_get_topic() -> None:
    store = MemoryTopicStore()
    await store.save([record("a", 5, 0.5, 10.0), record("b", 9, 3.0, 5.0), record("c", 7, -1.0, 20.0)], {}, 20.0)
    docs = {f"a:{i}": {"title": f"paper {i}", "ingested_at": float(i)} for i in range(4)}  # a:4 not indexed
    svc = TopicReadService(store, cast(SearchIndex, _Index(docs)))
    assert [t["id"] for t in await svc.list_topics()] == ["b", "c", "a"]
    assert [t["id"] for t in await svc.list_topics(sort="trending", size=2)] == ["b", "a"]
    assert [t["id"] for t in await svc.list_topics(sort="recent")] == ["c", "a", "b"]
    assert [t["id"] for t in await svc.list_topics(sort="label")] == ["a", "b", "c"]
    first = (await svc.list_topics(size=1))[0]
    assert first["trend"] == {
        "recent": 2,
        "baseline": 1.0,
        "z": 3.0,
        "lift": None,
        "bursting": False,
        "arrivals": [1, 1, 1, 2],
    }
    assert {"id", "label", "keyphrases", "size", "trend"} <= set(first)

    got = await svc.get_topic("a")
    assert got is not None and got["size"] == 5 and got["label"] == "label a"
    assert got["papers"] == [{"id": f"a:{i}", "title": f"paper {i}"} for i in (3, 2, 1, 0)]
    assert (await svc.get_topic("a", max_papers=2) or {})["papers"] == [
        {"id": "a:3", "title": "paper 3"},
        {"id": "a:2", "title": "paper 2"},
    ]
    assert await svc.get_topic("zzz") is None
    assert (await svc.get_topic("a", max_papers=0) or {})["papers"] == []
