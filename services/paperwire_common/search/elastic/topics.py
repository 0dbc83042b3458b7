"""Topic assignments on Elasticsearch (papers.topics.v1, SearchIndex.set_topics).

Each paper's latest assignment lives in an index of its own, `<alias>-topics`, written with external versioning
(the assignment's version): an older or replayed assignment is a 409 no-op, and an assignment for a paper not
indexed yet waits there. The recorded assignment is copied into the paper's document (a partial update).

Two writers touch a document's topics: an assignment (partial update) and a new version of the paper (a whole
document, which carries the recorded assignment). The local node has no scripts, so there is no compare-and-set
spanning both; upsert reads the assignments before it writes and again after, and re-applies those that changed
in between. Whichever write lands last, the document ends with the recorded assignment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from elasticsearch import AsyncElasticsearch

from ..port import TopicAssignment

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {"topics": {"type": "keyword", "index": False}, "topic_labels": {"type": "keyword", "index": False}},
}
Recorded = dict[str, tuple[list[str], list[str]]]  # paper id -> (topic ids, labels)


class Assignments:
    def __init__(self, es: AsyncElasticsearch, alias: str, name: str) -> None:
        self.es, self.alias, self.name = es, alias, name

    async def ensure(self) -> None:
        r = await self.es.options(ignore_status=400).indices.create(
            index=self.name, settings={"number_of_shards": 1, "number_of_replicas": 0}, mappings=MAPPINGS
        )
        if not r.get("acknowledged") and r.get("error", {}).get("type") != "resource_already_exists_exception":
            raise RuntimeError(f"cannot create index {self.name}: {r.get('error')}")

    async def read(self, paper_ids: Sequence[str]) -> Recorded:
        if not paper_ids:
            return {}
        r = await self.es.mget(index=self.name, ids=list(dict.fromkeys(paper_ids)))
        return {
            d["_id"]: (list(d["_source"].get("topics", [])), list(d["_source"].get("topic_labels", [])))
            for d in r["docs"]
            if d.get("found")
        }

    async def set_topics(self, assignments: Sequence[TopicAssignment]) -> None:
        if not assignments:
            return
        ops: list[dict[str, Any]] = []
        for a in assignments:
            ops.append(
                {"index": {"_index": self.name, "_id": a.paper_id, "version": a.version, "version_type": "external"}}
            )
            ops.append({"topics": list(a.topics), "topic_labels": list(a.labels)})
        _check(await self.es.bulk(operations=ops), ok=(409,))  # 409: the same or a newer one is recorded
        # What is recorded now, applied whether this call recorded it or an earlier one did (a crash may have come
        # between recording and applying).
        await self.apply(await self.read([a.paper_id for a in assignments]))

    async def apply(self, recorded: Recorded) -> None:
        """Copy recorded assignments into the papers' documents; papers not indexed yet are left to upsert."""
        if not recorded:
            return
        ops: list[dict[str, Any]] = []
        for pid, (topics, labels) in recorded.items():
            ops.append({"update": {"_index": self.alias, "_id": pid, "retry_on_conflict": 3}})
            ops.append({"doc": {"topics": topics, "topic_labels": labels}})
        _check(await self.es.bulk(operations=ops), ok=(404,))

    @staticmethod
    def carry(docs: Sequence[dict[str, Any]], recorded: Recorded) -> list[dict[str, Any]]:
        """The documents with their recorded assignments: a new version of a paper keeps its topics."""
        out = []
        for d in docs:
            a = recorded.get(str(d.get("id")))
            out.append({**d, "topics": a[0], "topic_labels": a[1]} if a is not None else d)
        return out

    async def settle(self, paper_ids: Sequence[str], carried: Recorded) -> None:
        """After an upsert: re-apply the assignments recorded since `carried` was read."""
        now = await self.read(paper_ids)
        await self.apply({pid: a for pid, a in now.items() if carried.get(pid) != a})


def _check(resp: Any, ok: tuple[int, ...]) -> None:
    if not resp.get("errors"):
        return
    for item in resp["items"]:
        r = next(iter(item.values()))
        status = r.get("status", 500)
        if status >= 300 and status not in ok:
            err = r.get("error", {})
            raise RuntimeError(f"elasticsearch {status} on topics of {r.get('_id')}: {err.get('type')}: {err}")
