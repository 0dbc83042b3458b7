"""Reads that rank on Elasticsearch: keyword search (one request with its query, filters, sort, highlight and
the facet aggregations asked for), kNN restricted by the query's constraints, and more-like-this."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from elasticsearch import AsyncElasticsearch

from ..document import FACET_SIZE
from ..mapping import EMBEDDING_DIMS
from ..port import TITLE_TIER, TOTAL_EXACT_UP_TO, Filters, SearchHit, SearchRequest, SearchResponse
from ..query import ParsedQuery
from .queries import TITLE_PHRASE, KnownWords, filters, keyword_query, node, source, source_kw

HIGHLIGHT: dict[str, Any] = {
    "fields": {"title": {"number_of_fragments": 0}, "abstract": {"fragment_size": 160, "number_of_fragments": 2}},
    "pre_tags": ["<em>"],
    "post_tags": ["</em>"],
}


def _timeout(budget_s: float | None) -> dict[str, Any]:
    """Elasticsearch's search timeout: past it, every shard answers with the hits it has (timed_out: true)."""
    return {} if budget_s is None else {"timeout": f"{max(1, round(budget_s * 1000))}ms"}


async def keyword_search(
    es: AsyncElasticsearch, alias: str, known_words: KnownWords, req: SearchRequest
) -> SearchResponse:
    pq = req.query
    flt = filters(req.filters)
    if req.only is not None:
        flt.append({"ids": {"values": list(req.only)}})
    kw: dict[str, Any] = {}
    if pq.empty:  # browse: newest first
        query: dict[str, Any] = {"bool": {"filter": flt}}
        sort: list[Any] = [{"published_at": {"order": "desc", "missing": "_last"}}, {"id": "asc"}]
    else:
        typo = await known_words.typo(pq)
        query = {"bool": {"must": [keyword_query(pq, typo, req.also)], "filter": flt}}
        sort = [{"_score": "desc"}, {"id": "asc"}]  # id: a total order, so search_after pages are exact
        if req.highlight and pq.highlight:
            # Highlighting re-runs its query on each hit's text; with fuzzy terms that cost 3x the whole search.
            # Highlights mark the query's first text clauses, exact (stemmed); a hit found only through a typo's
            # neighbour still ranks, without that mark.
            marks = {"bool": {"should": [node(c) for c in pq.highlight]}}
            kw["highlight"] = {**HIGHLIGHT, "highlight_query": marks}
    if req.order == "arrival":
        sort = [{"ingested_at": {"order": "desc", "missing": "_last"}}, {"id": "asc"}]
    if req.search_after is not None:
        kw["search_after"] = list(req.search_after)
    if req.facets:
        kw["aggs"] = {
            name: {"terms": {"field": name, "size": FACET_SIZE, "order": [{"_count": "desc"}, {"_key": "asc"}]}}
            for name in req.facets
        }
    r = await es.search(
        index=alias,
        query=query,
        size=req.size,
        sort=sort,
        **source_kw(req.fields),
        # Exact up to the limit, then a lower bound; facets visit every match anyway. Uncounted, a search can
        # skip non-competitive hits.
        track_total_hits=TOTAL_EXACT_UP_TO if req.count or req.facets else False,
        **_timeout(req.budget_s),
        **kw,
    )
    hits = []
    for h in r["hits"]["hits"]:
        score = float(h.get("_score") or 0.0)
        tier = TITLE_PHRASE in h.get("matched_queries", ())
        doc = {**h.get("_source", {}), "id": h["_id"]}
        hits.append(
            SearchHit(
                h["_id"],
                score - TITLE_TIER if tier else score,
                doc,
                dict(h.get("highlight", {})),
                tuple(h["sort"]),
                tier,
            )
        )
    facets: dict[str, list[tuple[Any, int]]] = {}
    for name, agg in (r.get("aggregations") or {}).items():
        # has_code buckets are keyed 1/0: the port's values are booleans
        facets[name] = [(bool(b["key"]) if name == "has_code" else b["key"], b["doc_count"]) for b in agg["buckets"]]
    timed_out = bool(r.get("timed_out"))
    if "total" in r["hits"]:
        total, relation = int(r["hits"]["total"]["value"]), r["hits"]["total"]["relation"]
    else:
        total, relation = len(hits), "gte"
    return SearchResponse(total, hits, facets, "gte" if timed_out else relation, timed_out)


async def knn(
    es: AsyncElasticsearch,
    alias: str,
    known_words: KnownWords,
    vector: Sequence[float],
    k: int,
    flt: Filters,
    fields: tuple[str, ...] | None,
    exclude_ids: Sequence[str],
    query: ParsedQuery | None,
    min_score: float | None,
    budget_s: float | None,
    only: Sequence[str] | None = None,
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
    if query is not None and not (c := query.constraints).empty:
        conditions.append(node(c, await known_words.typo(query)))
    if exclude_ids:
        conditions.append({"bool": {"must_not": [{"ids": {"values": list(exclude_ids)}}]}})
    if only is not None:
        conditions.append({"ids": {"values": list(only)}})
    if conditions:
        body["filter"] = conditions  # applied during the graph search, so k hits pass the filters
    r = await es.search(index=alias, knn=body, size=k, **source_kw(fields), **_timeout(budget_s))
    # The cosine similarity's score is (1 + cos) / 2; the port's score is the cosine itself. The floor is applied
    # here, on the re-scored float cosines (kNN's own `similarity` cut would see the quantised ones).
    hits = [
        SearchHit(h["_id"], 2.0 * float(h["_score"]) - 1.0, {**h.get("_source", {}), "id": h["_id"]})
        for h in r["hits"]["hits"]
    ]
    if min_score is not None:
        hits = [h for h in hits if h.score >= min_score]
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
