"""SearchIndex on Elasticsearch 9 (async client 9.x: it sends compatible-with=9, which an 8.x server refuses).

Writes use `version_type=external` with the paper's version, so a replayed or duplicated document is a
409 that we count as done: replays never re-version the index. Only 429 and 5xx are retried.
Reads are one request each: a search carries its query, filters, sort, highlight and facet aggregations together.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import orjson
from elasticsearch import AsyncElasticsearch, NotFoundError
from elasticsearch.serializer import NdjsonSerializer, OrjsonSerializer

from ..logging import get_logger
from .document import (
    DEFAULT_FIELDS,
    FACET_SIZE,
    SuggestKind,
    suggest_prefix,
    suggest_rank,
    suggest_suffixes,
)
from .mapping import EMBEDDING_DIMS, MAPPINGS, SETTINGS, SUGGEST_FIELDS, index_name
from .port import FACET_FIELDS, Filters, IndexFailure, SearchHit, SearchRequest, SearchResponse, Suggestion
from .query import Clause, Node, check_date, parse

log = get_logger(__name__)
RETRYABLE = {429, 500, 502, 503, 504}
NO_FILTERS = Filters()
KNOWN_WORDS_CACHE = 100_000
HIDDEN = ["embedding", "suggest", *SUGGEST_FIELDS]  # never in a returned document unless asked for by name


class _OrjsonNdjson(NdjsonSerializer):
    def json_dumps(self, data: Any) -> bytes:
        return orjson.dumps(data, default=self.default, option=orjson.OPT_SERIALIZE_NUMPY)

    def json_loads(self, data: bytes) -> Any:
        return orjson.loads(data)


class ElasticIndex:
    def __init__(self, url: str, alias: str = "papers", *, max_retries: int = 5, request_timeout: float = 30) -> None:
        self.url, self.alias, self.max_retries = url, alias, max_retries
        self._known: OrderedDict[str, None] = OrderedDict()  # words with exact matches (see _known_words)
        self._probing: dict[str, asyncio.Future[None]] = {}  # word -> the probe in flight for it
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

    async def _known_words(self, words: set[str]) -> frozenset[str]:
        """The words with an exact (analysed) match in some title or abstract: one _msearch of early-terminating
        counts for the words not already known. Known words are remembered (LRU): a word rarely leaves the
        index, and if one does it only misses its typo expansion until it drops out of the cache. A word already
        being probed for a concurrent search (hybrid runs two at once) is awaited, not probed again."""
        cache, probing = self._known, self._probing
        todo = sorted(w for w in words if w not in cache and w not in probing)
        if todo:
            task = asyncio.ensure_future(self._probe(todo))
            for w in todo:
                probing[w] = task
            task.add_done_callback(lambda _: [probing.pop(w, None) for w in todo])
        for t in {probing[w] for w in words if w in probing}:
            await t
        known = words & cache.keys()
        for w in known:
            cache.move_to_end(w)
        return frozenset(known)

    async def _probe(self, words: list[str]) -> None:
        """Add to the known-words cache those of `words` that some title or abstract contains."""
        searches: list[dict[str, Any]] = []
        for w in words:
            probe = {"multi_match": {"query": w, "fields": ["title", "abstract"], "operator": "and"}}
            searches += [{"index": self.alias}, {"size": 0, "terminate_after": 1, "query": probe}]
        r = await self.es.msearch(searches=searches)
        for w, resp in zip(words, r["responses"], strict=True):
            if "error" in resp:
                raise RuntimeError(f"elasticsearch vocabulary probe failed: {resp['error']}")
            if resp["hits"]["total"]["value"] > 0:
                self._known[w] = None
        while len(self._known) > KNOWN_WORDS_CACHE:
            self._known.popitem(last=False)

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
            r = await self.es.get(index=self.alias, id=paper_id, source_excludes=HIDDEN)
        except NotFoundError:
            return None
        return dict(r["_source"])

    async def get_many(
        self, paper_ids: Sequence[str], fields: tuple[str, ...] | None = None
    ) -> dict[str, dict[str, Any]]:
        if not paper_ids:
            return {}
        r = await self.es.mget(index=self.alias, ids=list(paper_ids), **_source_kw(fields))
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
        pq = parse(req.q)
        filters = _filters(req.filters)
        kw: dict[str, Any] = {}
        if pq.empty:  # browse: newest first
            query: dict[str, Any] = {"bool": {"filter": filters}}
            sort: list[Any] = [{"published_at": {"order": "desc", "missing": "_last"}}, {"id": "asc"}]
        else:
            known = await self._known_words(_typo_candidates(pq))
            query = {"bool": {"must": [_node(pq, known=known)], "filter": filters}}
            sort = [{"_score": "desc"}, {"id": "asc"}]  # id: a total order, so search_after pages are exact
            if req.highlight:
                kw["highlight"] = {
                    "fields": {
                        "title": {"number_of_fragments": 0},
                        "abstract": {"fragment_size": 160, "number_of_fragments": 2},
                    },
                    "pre_tags": ["<em>"],
                    "post_tags": ["</em>"],
                    # Highlighting re-runs the query on each hit's text; with fuzzy terms that cost 3x the whole
                    # search (sequential probe on 100k papers: 55 ms vs 19 ms). Highlights mark exact (stemmed)
                    # matches; a hit found only through a typo's neighbour still ranks, without that mark.
                    "highlight_query": {"bool": {"must": [_node(pq, fuzzy=False)]}},
                }
        if req.order == "arrival":
            sort = [{"ingested_at": {"order": "desc", "missing": "_last"}}, {"id": "asc"}]
        if req.search_after is not None:
            kw["search_after"] = list(req.search_after)
        if req.facets:
            kw["aggs"] = {
                name: {"terms": {"field": name, "size": FACET_SIZE, "order": [{"_count": "desc"}, {"_key": "asc"}]}}
                for name in FACET_FIELDS
            }
        r = await self.es.search(
            index=self.alias,
            query=query,
            size=req.size,
            sort=sort,
            **_source_kw(req.fields),
            # Facets visit every match anyway; without them an uncounted search can skip non-competitive hits.
            track_total_hits=req.count or req.facets,
            **kw,
        )
        hits = [
            SearchHit(
                h["_id"],
                float(h.get("_score") or 0.0),
                {**h.get("_source", {}), "id": h["_id"]},
                dict(h.get("highlight", {})),
                tuple(h["sort"]),
            )
            for h in r["hits"]["hits"]
        ]
        facets: dict[str, list[tuple[Any, int]]] = {}
        for name, agg in (r.get("aggregations") or {}).items():
            # has_code buckets are keyed 1/0: the port's values are booleans
            facets[name] = [
                (bool(b["key"]) if name == "has_code" else b["key"], b["doc_count"]) for b in agg["buckets"]
            ]
        total = int(r["hits"]["total"]["value"]) if "total" in r["hits"] else len(hits)
        return SearchResponse(total, hits, facets)

    async def knn(
        self,
        vector: Sequence[float],
        k: int,
        filters: Filters = NO_FILTERS,
        fields: tuple[str, ...] | None = None,
        exclude_ids: Sequence[str] = (),
    ) -> list[SearchHit]:
        q = [float(x) for x in vector]
        if len(q) != EMBEDDING_DIMS:
            raise ValueError(f"query vector has {len(q)} dims, expected {EMBEDDING_DIMS}")
        if k <= 0 or not any(q):  # cosine of a zero vector is undefined (Elasticsearch rejects it)
            return []
        k = min(k, 10_000)
        knn: dict[str, Any] = {
            "field": "embedding",
            "query_vector": q,
            "k": k,
            "num_candidates": min(10_000, max(100, 2 * k)),
            # The default int8-quantised HNSW scores are ~0.05 off: re-score the candidates on the float vectors.
            "rescore_vector": {"oversample": 2.0},
        }
        flt = _filters(filters)
        if exclude_ids:
            flt.append({"bool": {"must_not": [{"ids": {"values": list(exclude_ids)}}]}})
        if flt:
            knn["filter"] = flt  # applied during the graph search, so k hits pass the filters
        r = await self.es.search(index=self.alias, knn=knn, size=k, **_source_kw(fields))
        # The cosine similarity's score is (1 + cos) / 2; the port's score is the cosine itself.
        hits = [
            SearchHit(h["_id"], 2.0 * float(h["_score"]) - 1.0, {**h.get("_source", {}), "id": h["_id"]})
            for h in r["hits"]["hits"]
        ]
        hits.sort(key=lambda h: (-h.score, h.id))
        return hits

    async def more_like_this(self, paper_id: str, size: int, filters: Filters = NO_FILTERS) -> list[SearchHit]:
        if size <= 0:
            return []
        mlt = {
            "more_like_this": {
                "fields": ["title", "abstract"],
                "like": [{"_index": self.alias, "_id": paper_id}],
                "min_term_freq": 1,
                "min_doc_freq": 1,
                # The selected terms OR'ed, as on every adapter (the default 30% finds nothing for sparse overlap).
                "minimum_should_match": 1,
            }
        }
        query = {"bool": {"must": [mlt], "must_not": [{"ids": {"values": [paper_id]}}], "filter": _filters(filters)}}
        r = await self.es.search(
            index=self.alias,
            query=query,
            size=size,
            sort=[{"_score": "desc"}, {"id": "asc"}],
            source_includes=_source(None),
        )
        return [
            SearchHit(h["_id"], float(h["_score"] or 0.0), {**h["_source"], "id": h["_id"]}) for h in r["hits"]["hits"]
        ]

    async def suggest(self, prefix: str, size: int) -> list[Suggestion]:
        p = suggest_prefix(prefix)
        if not p or size <= 0:
            return []
        regex = _word_prefix_regex(p)
        terms = {"topic": "topic_labels", "method": "methods"}
        by_length = {"sort": [{"title_len": "asc"}, {"id": "asc"}], "_source": ["title"]}
        head = {"index": self.alias}
        r = await self.es.msearch(
            searches=[
                # Titles that start with the prefix rank first: the shortest of them (ties re-ranked below) ...
                head,
                {"query": {"prefix": {"title_start": p}}, "size": 2 * size + 20, **by_length},
                # ... then titles with a later word that starts it: the shortest candidates, ranked below by
                # the position of that word. (A long title matching at its second word can lose its place to
                # shorter ones matching later; the embedded index ranks every match.)
                head,
                {"query": {"prefix": {"title_suffixes": p}}, "size": max(50, 5 * size), **by_length},
                # Topic labels and methods: aggregations over the documents with a matching label.
                head,
                {
                    "size": 0,
                    "query": {"bool": {"should": [{"regexp": {f: {"value": regex}}} for f in terms.values()]}},
                    "aggs": {
                        kind: {
                            "filter": {"regexp": {f: {"value": regex}}},
                            "aggs": {"v": {"terms": {"field": f, "include": regex, "size": max(50, 5 * size)}}},
                        }
                        for kind, f in terms.items()
                    },
                },
            ]
        )
        for resp in r["responses"]:
            if "error" in resp:
                raise RuntimeError(f"elasticsearch suggest failed: {resp['error']}")
        starts, anywhere, labels = r["responses"]
        found: list[tuple[tuple[int, int, int, str], Suggestion]] = []
        seen: set[tuple[str, str]] = set()

        def add(kind: SuggestKind, text: str, pid: str | None) -> None:
            pos = next((i for i, norm in suggest_suffixes(text) if norm.startswith(p)), None)
            if pos is not None and (kind, text.lower()) not in seen:
                seen.add((kind, text.lower()))
                found.append((suggest_rank(pos, kind, text), Suggestion(text, kind, pid)))

        for resp in (starts, anywhere):
            for h in resp["hits"]["hits"]:
                add("title", str(h.get("_source", {}).get("title", "")), h["_id"])
        kinds: tuple[SuggestKind, ...] = ("topic", "method")
        for kind in kinds:
            for b in labels.get("aggregations", {}).get(kind, {}).get("v", {}).get("buckets", []):
                add(kind, str(b["key"]), None)
        found.sort(key=lambda x: x[0])
        return [s for _, s in found[:size]]


def stored_body(d: dict[str, Any]) -> dict[str, Any]:
    """The stored document plus the fields title suggestions query (see mapping.SUGGEST_FIELDS)."""
    title = str(d.get("title") or "")
    suffixes = [norm for _, norm in suggest_suffixes(title)]
    if not suffixes:
        return dict(d)
    return {**d, "title_start": suffixes[0], "title_suffixes": suffixes, "title_len": len(title)}


def _source(fields: tuple[str, ...] | None) -> list[str]:
    return ["id", *fields] if fields else list(DEFAULT_FIELDS)


def _source_kw(fields: tuple[str, ...] | None) -> dict[str, Any]:
    """Source filtering still loads and parses each hit's whole stored _source (with an embedding, ~8 kB of
    JSON): a request for ids alone (hybrid's candidates) skips it and takes the id from the hit."""
    if fields and set(fields) <= {"id"}:
        return {"source": False}
    return {"source_includes": _source(fields)}


def _filters(f: Filters) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if f.topic:
        out.append({"term": {"topics": f.topic}})
    if f.has_code is not None:
        out.append({"term": {"has_code": f.has_code}})
    if f.source:
        out.append({"term": {"source": f.source}})
    if f.date_from or f.date_to:
        rng: dict[str, Any] = {"format": "yyyy-MM-dd"}
        if f.date_from:
            rng["gte"] = check_date(f.date_from, "date_from").isoformat()
        if f.date_to:  # rounded up to the end of that day: inclusive also for datetimes
            rng["lte"] = check_date(f.date_to, "date_to").isoformat() + "||/d"
        out.append({"range": {"published_at": rng}})
    if f.arrived_from is not None or f.arrived_before is not None:
        arrived: dict[str, float] = {}
        if f.arrived_from is not None:
            arrived["gte"] = f.arrived_from
        if f.arrived_before is not None:
            arrived["lt"] = f.arrived_before
        out.append({"range": {"ingested_at": arrived}})
    return out


_TEXT_FIELDS = {
    "title": "title",
    "abstract": "abstract",
    "authors": "authors",
    "methods": "methods.text",
    "datasets": "datasets.text",
}


def _node(n: Node, fuzzy: bool = True, known: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The Elasticsearch query of a parsed query; `known`: free words with an exact match (no typo expansion)."""
    if isinstance(n, Clause):
        return _leaf(n, fuzzy, known)
    b: dict[str, Any] = {}
    if n.must:
        b["must"] = [_node(c, fuzzy, known) for c in n.must]
    if n.should:
        b["should"] = [_node(c, fuzzy, known) for c in n.should]
        b["minimum_should_match"] = n.min_should
    if n.must_not:
        b["must_not"] = [_node(c, fuzzy, known) for c in n.must_not]
    return {"bool": b}


def _typo_word(c: Clause) -> str | None:
    """The word of a clause that may get typo tolerance (lower-cased): free single words only, as the embedded
    index picks them."""
    return c.text.lower() if c.field is None and not c.phrase and c.text.isalnum() else None


def _typo_candidates(n: Node) -> set[str]:
    if isinstance(n, Clause):
        w = _typo_word(n)
        return {w} if w is not None else set()
    return set().union(*(_typo_candidates(c) for c in (*n.must, *n.should, *n.must_not)))


def _keyword(q: dict[str, Any]) -> dict[str, Any]:
    return {"bool": {"filter": [q]}}  # matches without scoring, as a filter


def _leaf(c: Clause, fuzzy: bool = True, known: frozenset[str] = frozenset()) -> dict[str, Any]:
    if c.field is None:
        if c.phrase:
            return {"multi_match": {"query": c.text, "fields": ["title^3", "abstract"], "type": "phrase"}}
        free: dict[str, Any] = {
            "query": c.text,
            "fields": ["title^3", "abstract"],
            "type": "most_fields",
            "operator": "and",
        }
        # Typo tolerance on free single words the index does not contain as such (so exact matches always
        # outrank would-be typo ones); AUTO:4,8 = exact below 4 characters, 1 edit below 8, else 2.
        if fuzzy and (w := _typo_word(c)) is not None and w not in known:
            free |= {"fuzziness": "AUTO:4,8", "prefix_length": 1}
        return {"multi_match": free}
    if c.field in _TEXT_FIELDS:
        f, boost = _TEXT_FIELDS[c.field], 3.0 if c.field == "title" else 1.0
        if c.phrase:
            return {"match_phrase": {f: {"query": c.text, "boost": boost}}}
        return {"match": {f: {"query": c.text, "operator": "and", "boost": boost}}}
    if c.field == "has_code":
        return _keyword({"term": {"has_code": c.yes}})
    if c.field == "topics":  # a topic id or label, any case
        return _keyword(
            {
                "bool": {
                    "should": [
                        {"term": {"topics": {"value": c.text, "case_insensitive": True}}},
                        {"term": {"topic_labels": {"value": c.text, "case_insensitive": True}}},
                    ]
                }
            }
        )
    return _keyword({"term": {c.field: {"value": c.text, "case_insensitive": True}}})


def _word_prefix_regex(prefix: str) -> str:
    """A Lucene regexp matching a keyword one of whose words starts with the normalised `prefix`, any case."""

    def ci(word: str) -> str:
        return "".join(
            f"[{ch}{ch.upper()}]" if ch.upper() != ch else ch if ch.isascii() and ch.isalnum() else "\\" + ch
            for ch in word
        )

    return "(.*[^a-zA-Z0-9])?" + "[^a-zA-Z0-9]+".join(ci(w) for w in prefix.split(" ")) + ".*"
