"""Suggestions on Elasticsearch: title prefixes on the folded-title keywords, topic labels and methods by
regexp aggregations, ranked like the embedded index."""

from __future__ import annotations

from elasticsearch import AsyncElasticsearch

from ..document import SuggestKind, suggest_prefix, suggest_rank, suggest_suffixes
from ..port import Suggestion


async def suggest(es: AsyncElasticsearch, alias: str, prefix: str, size: int) -> list[Suggestion]:
    p = suggest_prefix(prefix)
    if not p or size <= 0:
        return []
    regex = word_prefix_regex(p)
    terms = {"topic": "topic_labels", "method": "methods"}
    by_length = {"sort": [{"title_len": "asc"}, {"id": "asc"}], "_source": ["title"]}
    head = {"index": alias}
    r = await es.msearch(
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


def word_prefix_regex(prefix: str) -> str:
    """A Lucene regexp matching a keyword one of whose words starts with the normalised `prefix`, any case."""

    def ci(word: str) -> str:
        return "".join(
            f"[{ch}{ch.upper()}]" if ch.upper() != ch else ch if ch.isascii() and ch.isalnum() else "\\" + ch
            for ch in word
        )

    return "(.*[^a-zA-Z0-9])?" + "[^a-zA-Z0-9]+".join(ci(w) for w in prefix.split(" ")) + ".*"
