"""Reads that rank on Elasticsearch: keyword search (one request with its query, filters, sort, highlight and
facet aggregations), kNN and more-like-this."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from elasticsearch import AsyncElasticsearch

from ..document import FACET_SIZE
from ..mapping import EMBEDDING_DIMS
from ..port import FACET_FIELDS, Filters, SearchHit, SearchRequest, SearchResponse
from ..query import parse
from .queries import KnownWords, filters, node, source, source_kw, typo_candidates


async def keyword_search(
    es: AsyncElasticsearch, alias: str, known_words: KnownWords, req: SearchRequest
) -> SearchResponse:
    pq = parse(req.q)
    flt = filters(req.filters)
    kw: dict[str, Any] = {}
    if pq.empty:  # browse: newest first
        query: dict[str, Any] = {"bool": {"filter": flt}}
        sort: list[Any] = [{"published_at": {"order": "desc", "missing": "_last"}}, {"id": "asc"}]
    else:
        known = await known_words(typo_candidates(pq))
        query = {"bool": {"must": [node(pq, known=known)], "filter": flt}}
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
                # search. Highlights mark exact (stemmed) matches; a hit found only through a typo's neighbour
                # still ranks, without that mark.
                "highlight_query": {"bool": {"must": [node(pq, fuzzy=False)]}},
            }
    if req.search_after is not None:
        kw["search_after"] = list(req.search_after)
    if req.facets:
        kw["aggs"] = {
            name: {"terms": {"field": name, "size": FACET_SIZE, "order": [{"_count": "desc"}, {"_key": "asc"}]}}
            for name in FACET_FIELDS
        }
    r = await es.search(
        index=alias,
        query=query,
        size=req.size,
        sort=sort,
        **source_kw(req.fields),
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
        facets[name] = [(bool(b["key"]) if name == "has_code" else b["key"], b["doc_count"]) for b in agg["buckets"]]
    total = int(r["hits"]["total"]["value"]) if "total" in r["hits"] else len(hits)
    return SearchResponse(total, hits, facets)


async def knn(
    es: AsyncElasticsearch,
    alias: str,
    vector: Sequence[float],
    k: int,
    flt: Filters,
    fields: tuple[str, ...] | None,
    exclude_ids: Sequence[str],
) -> list[SearchHit]:
    q = [float(x) for x in vector]
    if len(q) != EMBEDDING_DIMS:
        raise ValueError(f"query vector has {len(q)} dims, expected {EMBEDDING_DIMS}")
    if k <= 0 or not any(q):  # cosine of a zero vector is undefined (Elasticsearch rejects it)
        return []
    k = min(k, 10_000)
    body: dict[str, Any] = {
        "field": "embedding",
        "query_vector": q,
        "k": k,
        "num_candidates": min(10_000, max(100, 2 * k)),
        # The default int8-quantised HNSW scores are ~0.05 off: re-score the candidates on the float vectors.
        "rescore_vector": {"oversample": 2.0},
    }
    conditions = filters(flt)
    if exclude_ids:
        conditions.append({"bool": {"must_not": [{"ids": {"values": list(exclude_ids)}}]}})
    if conditions:
        body["filter"] = conditions  # applied during the graph search, so k hits pass the filters
    r = await es.search(index=alias, knn=body, size=k, **source_kw(fields))
    # The cosine similarity's score is (1 + cos) / 2; the port's score is the cosine itself.
    hits = [
        SearchHit(h["_id"], 2.0 * float(h["_score"]) - 1.0, {**h.get("_source", {}), "id": h["_id"]})
        for h in r["hits"]["hits"]
    ]
    hits.sort(key=lambda h: (-h.score, h.id))
    return hits


async def more_like_this(es: AsyncElasticsearch, alias: str, paper_id: str, size: int, flt: Filters) -> list[SearchHit]:
    if size <= 0:
        return []
    mlt = {
        "more_like_this": {
            "fields": ["title", "abstract"],
            "like": [{"_index": alias, "_id": paper_id}],
            "min_term_freq": 1,
            "min_doc_freq": 1,
            # The selected terms OR'ed, as on every adapter (the default 30% finds nothing for sparse overlap).
            "minimum_should_match": 1,
        }
    }
    query = {"bool": {"must": [mlt], "must_not": [{"ids": {"values": [paper_id]}}], "filter": filters(flt)}}
    r = await es.search(
        index=alias,
        query=query,
        size=size,
        sort=[{"_score": "desc"}, {"id": "asc"}],
        source_includes=source(None),
    )
    return [SearchHit(h["_id"], float(h["_score"] or 0.0), {**h["_source"], "id": h["_id"]}) for h in r["hits"]["hits"]]
