"""The Elasticsearch query DSL of a parsed query, the filters and source options, the stored body, and the
vocabulary probe that decides which free words get typo tolerance."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from elasticsearch import AsyncElasticsearch

from ..document import DEFAULT_FIELDS, suggest_suffixes
from ..port import TITLE_TIER, Filters
from ..query import BoolQuery, Clause, Node, ParsedQuery, check_date

KNOWN_WORDS_CACHE = 100_000
TITLE_PHRASE = "title_phrase"  # the named query of the title tier


class KnownWords:
    """The free words with an exact (analysed) match in some title or abstract, remembered (LRU): typo
    expansion is only for the words the index lacks, as on the embedded index."""

    def __init__(self, es: AsyncElasticsearch, alias: str) -> None:
        self.es, self.alias = es, alias
        self._known: OrderedDict[str, None] = OrderedDict()
        self._probing: dict[str, asyncio.Future[None]] = {}  # word -> the probe in flight for it

    async def __call__(self, words: set[str]) -> frozenset[str]:
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

    async def typo(self, pq: ParsedQuery) -> frozenset[str]:
        """The free words of a query that get typo tolerance: its typo words the index lacks."""
        if not pq.typo_words:
            return frozenset()
        return pq.typo_words - await self(set(pq.typo_words))

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


def stored_body(d: dict[str, Any]) -> dict[str, Any]:
    """The stored document plus the fields title suggestions query (see mapping.SUGGEST_FIELDS)."""
    title = str(d.get("title") or "")
    suffixes = [norm for _, norm in suggest_suffixes(title)]
    if not suffixes:
        return dict(d)
    return {**d, "title_start": suffixes[0], "title_suffixes": suffixes, "title_len": len(title)}


def source(fields: tuple[str, ...] | None) -> list[str]:
    return ["id", *fields] if fields else list(DEFAULT_FIELDS)


def source_kw(fields: tuple[str, ...] | None) -> dict[str, Any]:
    """Source filtering still loads and parses each hit's whole stored _source (with an embedding, ~8 kB of
    JSON): a request for ids alone (hybrid's candidates) skips it and takes the id from the hit."""
    if fields and set(fields) <= {"id"}:
        return {"source": False}
    return {"source_includes": source(fields)}


def filters(f: Filters) -> list[dict[str, Any]]:
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


def node(n: Node, typo: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The Elasticsearch query of a parsed query node; free words in `typo` are typo-tolerant."""
    if isinstance(n, Clause):
        return _leaf(n, typo)
    b: dict[str, Any] = {}
    if n.must:
        b["must"] = [node(c, typo) for c in n.must]
    if n.should:
        b["should"] = [node(c, typo) for c in n.should]
        b["minimum_should_match"] = n.min_should
    if n.must_not:
        b["must_not"] = [node(c, typo) for c in n.must_not]
    return {"bool": b}


def keyword_query(pq: ParsedQuery, typo: frozenset[str], also: Sequence[str] = ()) -> dict[str, Any]:
    """The whole keyword query: the parsed root, the title-phrase tier (port.TITLE_TIER, named so hits say they
    matched it) and the documents of another retriever (`also`, scoring 0)."""
    phrases = pq.required_phrases
    q = node(
        BoolQuery(
            should=pq.root.should,
            must=[n for n in pq.root.must if not any(n is p for p in phrases)],
            must_not=pq.root.must_not,
        ),
        typo,
    )
    for p in phrases:  # matched exactly, ranked as their words (see ParsedQuery.required_phrases)
        words = _leaf(Clause(p.text, p.field), frozenset())
        q["bool"].setdefault("must", []).append({"bool": {"filter": [_leaf(p, frozenset())], "must": [words]}})
    if "should" in q["bool"]:
        q["bool"]["minimum_should_match"] = pq.root.min_should  # as if the phrases were still in `must`
    extra: list[dict[str, Any]] = []
    if pq.title_phrase is not None:
        phrase = {"match_phrase": {"title": {"query": pq.title_phrase, "_name": TITLE_PHRASE}}}
        extra.append({"constant_score": {"filter": phrase, "boost": TITLE_TIER}})
    if also:
        extra.append({"ids": {"values": list(also), "boost": 0.0}})
    if extra:
        # A title holding the phrase holds its words, and `also` only adds: the set that matches grows by `also`.
        q["bool"].setdefault("should", []).extend(extra)
    return q


def _typo_word(c: Clause) -> str | None:
    return c.text.lower() if c.field is None and not c.phrase and c.text.isalnum() else None


def _keyword(q: dict[str, Any]) -> dict[str, Any]:
    return {"bool": {"filter": [q]}}  # matches without scoring, as a filter


def _leaf(c: Clause, typo: frozenset[str]) -> dict[str, Any]:
    if c.field is None:
        if c.phrase:
            return {"multi_match": {"query": c.text, "fields": ["title^3", "abstract"], "type": "phrase"}}
        # Typo tolerance (the caller picks the words: free single words the index lacks, so exact matches always
        # outrank would-be typo ones); AUTO:4,8 = exact below 4 characters, 1 edit below 8, else 2.
        if (w := _typo_word(c)) is not None and w in typo:
            fuzzy = {"fields": ["title^3", "abstract"], "type": "most_fields", "operator": "and"}
            return {"multi_match": {"query": c.text, **fuzzy, "fuzziness": "AUTO:4,8", "prefix_length": 1}}
        # BM25F over title (x3) and abstract as one field, as the embedded index's bm25 weighs its columns.
        return {"combined_fields": {"query": c.text, "fields": ["title^3", "abstract"], "operator": "and"}}
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
