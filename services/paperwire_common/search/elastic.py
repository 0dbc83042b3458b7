"""SearchIndex on Elasticsearch 8 (async client 8.x: the 9.x client cannot talk to an 8.x server).

Writes use `version_type=external` with the paper's version, so a replayed or duplicated document is a
409 that we count as done: replays never re-version the index. Only 429 and 5xx are retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from elasticsearch import AsyncElasticsearch, NotFoundError

from ..logging import get_logger
from .document import DEFAULT_FIELDS
from .mapping import MAPPINGS, SETTINGS, index_name
from .port import IndexFailure, SearchHit, SearchRequest, SearchResponse
from .query import Clause, ParsedQuery, parse

log = get_logger(__name__)
RETRYABLE = {429, 500, 502, 503, 504}


class ElasticIndex:
    def __init__(
        self, url: str, alias: str = "papers", *, max_retries: int = 5, request_timeout: float = 30
    ) -> None:
        self.url, self.alias, self.max_retries = url, alias, max_retries
        self.es = AsyncElasticsearch(
            url, request_timeout=request_timeout, retry_on_timeout=True, max_retries=3
        )

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self.es.close()

    async def ready(self) -> bool:
        try:
            h = await self.es.cluster.health(timeout="1s")
            return h["status"] in ("yellow", "green")
        except Exception:
            return False

    async def ensure_index(self) -> None:
        """Create papers-vN and point the alias at it, unless the alias already exists."""
        if await self.es.indices.exists_alias(name=self.alias):
            return
        name = index_name(self.alias)
        # Several services start at once: tolerate losing the race to create the index.
        r = await self.es.options(ignore_status=400).indices.create(index=name, settings=SETTINGS, mappings=MAPPINGS)
        if r.get("acknowledged"):
            log.info("elasticsearch.index_created", index=name)
        elif r.get("error", {}).get("type") != "resource_already_exists_exception":
            raise RuntimeError(f"cannot create index {name}: {r.get('error')}")
        await self.es.indices.put_alias(index=name, name=self.alias)

    async def upsert(self, docs: Sequence[dict[str, Any]]) -> list[IndexFailure]:
        pending = list(docs)
        failures: list[IndexFailure] = []
        delay = 0.5
        for attempt in range(self.max_retries + 1):
            ops: list[dict[str, Any]] = []
            for d in pending:
                ops.append(
                    {
                        "index": {
                            "_index": self.alias,
                            "_id": d["id"],
                            "version": d["version"],
                            "version_type": "external",
                        }
                    }
                )
                ops.append(d)
            resp = await self.es.bulk(operations=ops)
            retry: list[dict[str, Any]] = []
            if resp.get("errors"):
                for d, item in zip(pending, resp["items"], strict=True):
                    r = item["index"]
                    status = r.get("status", 500)
                    if status < 300 or status == 409:  # 409: same or newer version already stored
                        continue
                    if status in RETRYABLE and attempt < self.max_retries:
                        retry.append(d)
                    else:
                        err = r.get("error", {})
                        reason = f"elasticsearch {status}: {err.get('type', '')}: {err.get('reason', '')}"
                        failures.append(IndexFailure(d["id"], reason))
            if not retry:
                break
            log.warning("elasticsearch.bulk_retry", items=len(retry), attempt=attempt + 1)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)
            pending = retry
        return failures

    async def get(self, paper_id: str) -> dict[str, Any] | None:
        try:
            r = await self.es.get(index=self.alias, id=paper_id, source_excludes=["embedding"])
        except NotFoundError:
            return None
        return dict(r["_source"])

    async def get_versions(self, paper_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        if not paper_ids:
            return {}
        r = await self.es.mget(
            index=self.alias, ids=list(paper_ids), source_includes=["version", "content_hash"]
        )
        return {
            d["_id"]: (d["_source"]["version"], d["_source"]["content_hash"])
            for d in r["docs"]
            if d.get("found")
        }

    async def refresh(self) -> None:
        await self.es.indices.refresh(index=self.alias)

    async def count(self) -> int:
        return int((await self.es.count(index=self.alias))["count"])

    async def snapshot(self) -> dict[str, int]:
        out: dict[str, int] = {}
        after: list[Any] | None = None
        while True:
            kw: dict[str, Any] = {"search_after": after} if after else {}
            r = await self.es.search(
                index=self.alias,
                size=1000,
                sort=[{"id": "asc"}],
                source_includes=["version"],
                query={"match_all": {}},
                **kw,
            )
            hits = r["hits"]["hits"]
            if not hits:
                return out
            for h in hits:
                out[h["_id"]] = h["_source"]["version"]
            after = hits[-1]["sort"]

    async def search(self, req: SearchRequest) -> SearchResponse:
        query = build_query(parse(req.q), req)
        r = await self.es.search(
            index=self.alias,
            query=query,
            size=req.size,
            source_includes=list(req.fields or DEFAULT_FIELDS),
            highlight={
                "fields": {
                    "title": {"number_of_fragments": 0},
                    "abstract": {"fragment_size": 160, "number_of_fragments": 2},
                },
                "pre_tags": ["<em>"],
                "post_tags": ["</em>"],
            },
            track_total_hits=True,
        )
        hits = [
            SearchHit(h["_id"], float(h["_score"] or 0.0), h["_source"], dict(h.get("highlight", {})))
            for h in r["hits"]["hits"]
        ]
        return SearchResponse(int(r["hits"]["total"]["value"]), hits)


def _clause(c: Clause) -> dict[str, Any]:
    if c.field == "has_code":
        return {"term": {"has_code": c.text.lower() in ("yes", "true", "1")}}
    if c.field in ("topics", "methods", "datasets", "source"):
        return (
            {"term": {c.field: c.text}}
            if c.field in ("topics", "source")
            else {"match": {f"{c.field}.text": c.text}}
        )
    fields = [c.field] if c.field else ["title^3", "abstract"]
    if c.phrase:
        return {"multi_match": {"query": c.text, "fields": fields, "type": "phrase"}}
    return {"multi_match": {"query": c.text, "fields": fields, "fuzziness": "AUTO", "prefix_length": 1}}


def build_query(pq: ParsedQuery, req: SearchRequest) -> dict[str, Any]:
    filters: list[dict[str, Any]] = []
    if req.has_code is not None:
        filters.append({"term": {"has_code": req.has_code}})
    if req.topic:
        filters.append({"term": {"topics": req.topic}})
    if pq.empty:
        return {"bool": {"must": [{"match_all": {}}], "filter": filters}}
    return {
        "bool": {
            "should": [_clause(c) for c in pq.should],
            "must": [_clause(c) for c in pq.must],
            "must_not": [_clause(c) for c in pq.must_not],
            "filter": filters,
            "minimum_should_match": 1 if pq.should and not pq.must else 0,
        }
    }
