"""SearchIndex on Elasticsearch 9 (async client 9.x: it sends compatible-with=9, which an 8.x server refuses).

Writes use `version_type=external` with the paper's version, so a replayed or duplicated document is a
409 that we count as done: replays never re-version the index. Only 429 and 5xx are retried.
Reads are one request each: a search carries its query, filters, sort, highlight and facet aggregations together.
The parts: `queries` (the query DSL, filters, the vocabulary probe), `search` (keyword, kNN, more-like-this) and
`suggest`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import orjson
from elasticsearch import AsyncElasticsearch, NotFoundError
from elasticsearch.serializer import NdjsonSerializer, OrjsonSerializer

from ...logging import get_logger
from ..mapping import MAPPINGS, SETTINGS, SUGGEST_FIELDS, index_name
from ..port import Filters, IndexFailure, SearchHit, SearchRequest, SearchResponse, Suggestion, TopicAssignment
from ..query import ParsedQuery
from . import search
from .queries import KnownWords, source_kw, stored_body
from .suggest import suggest
from .topics import Assignments

log = get_logger(__name__)
RETRYABLE = {429, 500, 502, 503, 504}
NO_FILTERS = Filters()
HIDDEN = ["embedding", "suggest", *SUGGEST_FIELDS]  # never in a returned document unless asked for by name


class IndexUnavailable(RuntimeError):
    """Elasticsearch kept refusing writes with a transient status (429, 5xx): retry the batch later."""


class _OrjsonNdjson(NdjsonSerializer):
    def json_dumps(self, data: Any) -> bytes:
        return orjson.dumps(data, default=self.default, option=orjson.OPT_SERIALIZE_NUMPY)

    def json_loads(self, data: bytes) -> Any:
        return orjson.loads(data)


class ElasticIndex:
    def __init__(
        self,
        url: str,
        alias: str = "papers",
        *,
        max_retries: int = 5,
        request_timeout: float = 30,
        topics_index: str | None = None,
    ) -> None:
        self.url, self.alias, self.max_retries = url, alias, max_retries
        self.es = AsyncElasticsearch(
            url,
            request_timeout=request_timeout,
            retry_on_timeout=True,
            max_retries=3,
            # orjson: (de)serialising bulk bodies and search answers was the client's largest CPU cost.
            serializers={
                OrjsonSerializer.mimetype: OrjsonSerializer(),
                _OrjsonNdjson.mimetype: _OrjsonNdjson(),  # _bulk and _msearch bodies
            },
        )
        self.known_words = KnownWords(self.es, alias)
        # Shared by every version of the index (a reindex passes the live one's), so assignments outlive them.
        self.assignments = Assignments(self.es, alias, topics_index or f"{alias}-topics")

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self.es.close()

    async def ready(self) -> bool:
        try:
            # One quick attempt: readiness must not wait out the client's retries against a server that is gone.
            h = await self.es.options(request_timeout=2, max_retries=0).cluster.health(timeout="1s")
            return h["status"] in ("yellow", "green")
        except Exception:
            return False

    async def ensure_index(self) -> None:
        """Create papers-vN and point the alias at it, unless the alias already exists; and the assignments index."""
        await self.assignments.ensure()
        if await self.es.indices.exists_alias(name=self.alias):
            await self._add_missing_fields()
            return
        name = index_name(self.alias)
        # Several services start at once: tolerate losing the race to create the index.
        r = await self.es.options(ignore_status=400).indices.create(index=name, settings=SETTINGS, mappings=MAPPINGS)
        if r.get("acknowledged"):
            log.info("elasticsearch.index_created", index=name)
        elif r.get("error", {}).get("type") != "resource_already_exists_exception":
            raise RuntimeError(f"cannot create index {name}: {r.get('error')}")
        await self.es.indices.put_alias(index=name, name=self.alias)

    async def _add_missing_fields(self) -> None:
        """An index made by an older release gets the fields added since (adding a field is always allowed), so
        the strict mapping accepts today's documents; `paperwire search reindex` fills them for old documents."""
        got = await self.es.indices.get_mapping(index=self.alias)
        for name, m in got.items():
            have = m.get("mappings", {}).get("properties", {})
            missing = {k: v for k, v in MAPPINGS["properties"].items() if k not in have}
            if missing:
                await self.es.indices.put_mapping(index=name, properties=missing)
                log.info("elasticsearch.mapping_extended", index=name, fields=sorted(missing))

    async def upsert(self, docs: Sequence[dict[str, Any]]) -> list[IndexFailure]:
        if not docs:
            return []
        ids = [str(d["id"]) for d in docs if "id" in d]
        carried = await self.assignments.read(ids)
        failures = await self._index(self.assignments.carry(docs, carried))
        await self.assignments.settle(ids, carried)
        return failures

    async def set_topics(self, assignments: Sequence[TopicAssignment]) -> None:
        await self.assignments.set_topics(assignments)

    async def _index(self, docs: Sequence[dict[str, Any]]) -> list[IndexFailure]:
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
                ops.append(stored_body(d))
            resp = await self.es.bulk(operations=ops)
            retry: list[dict[str, Any]] = []
            last: dict[str, Any] = {}
            if resp.get("errors"):
                for d, item in zip(pending, resp["items"], strict=True):
                    r = item["index"]
                    status = r.get("status", 500)
                    if status < 300 or status == 409:  # 409: same or newer version already stored
                        continue
                    if status in RETRYABLE:
                        retry.append(d)
                        last = r
                    else:
                        err = r.get("error", {})
                        reason = f"elasticsearch {status}: {err.get('type', '')}: {err.get('reason', '')}"
                        failures.append(IndexFailure(d["id"], reason))
            if not retry:
                break
            if attempt == self.max_retries:
                # Still overloaded (429) or unavailable (5xx): that says nothing about the documents, so they are
                # not failures to dead-letter; the batch fails and the consumer retries it after its backoff.
                err = last.get("error", {})
                raise IndexUnavailable(
                    f"elasticsearch answered {last.get('status')} ({err.get('type', '')}) for {len(retry)} documents "
                    f"after {self.max_retries} retries"
                )
            log.warning("elasticsearch.bulk_retry", items=len(retry), attempt=attempt + 1)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)
            pending = retry
        return failures

    async def get(self, paper_id: str) -> dict[str, Any] | None:
        try:
            r = await self.es.get(index=self.alias, id=paper_id, source_excludes=HIDDEN)
        except NotFoundError:
            return None
        return dict(r["_source"])

    async def get_many(
        self, paper_ids: Sequence[str], fields: tuple[str, ...] | None = None
    ) -> dict[str, dict[str, Any]]:
        if not paper_ids:
            return {}
        r = await self.es.mget(index=self.alias, ids=list(paper_ids), **source_kw(fields))
        return {d["_id"]: {**d.get("_source", {}), "id": d["_id"]} for d in r["docs"] if d.get("found")}

    async def get_embeddings(self, paper_ids: Sequence[str]) -> dict[str, list[float]]:
        if not paper_ids:
            return {}
        r = await self.es.mget(index=self.alias, ids=list(paper_ids), source_includes=["embedding"])
        return {
            d["_id"]: [float(x) for x in d["_source"]["embedding"]]
            for d in r["docs"]
            if d.get("found") and d["_source"].get("embedding") is not None
        }

    async def get_versions(self, paper_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        if not paper_ids:
            return {}
        r = await self.es.mget(index=self.alias, ids=list(paper_ids), source_includes=["version", "content_hash"])
        return {d["_id"]: (d["_source"]["version"], d["_source"]["content_hash"]) for d in r["docs"] if d.get("found")}

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
        return await search.keyword_search(self.es, self.alias, self.known_words, req)

    async def knn(
        self,
        vector: Sequence[float],
        k: int,
        filters: Filters = NO_FILTERS,
        fields: tuple[str, ...] | None = None,
        exclude_ids: Sequence[str] = (),
        query: ParsedQuery | None = None,
        min_score: float | None = None,
        budget_s: float | None = None,
        only: Sequence[str] | None = None,
    ) -> list[SearchHit]:
        return await search.knn(
            self.es,
            self.alias,
            self.known_words,
            vector,
            k,
            filters,
            fields,
            exclude_ids,
            query,
            min_score,
            budget_s,
            only,
        )

    async def more_like_this(self, paper_id: str, size: int, filters: Filters = NO_FILTERS) -> list[SearchHit]:
        return await search.more_like_this(self.es, self.alias, paper_id, size, filters)

    async def suggest(self, prefix: str, size: int) -> list[Suggestion]:
        return await suggest(self.es, self.alias, prefix, size)
