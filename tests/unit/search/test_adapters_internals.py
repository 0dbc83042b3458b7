"""The pieces of the search adapters that the contract tests cannot pin down on their own."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from paperwire_common.search.document import suggest_prefix, suggest_rank, suggest_suffixes
from paperwire_common.search.elastic import stored_body
from paperwire_common.search.elastic.queries import keyword_query
from paperwire_common.search.elastic.queries import node as _node
from paperwire_common.search.elastic.suggest import word_prefix_regex as _word_prefix_regex
from paperwire_common.search.embedded import EmbeddedIndex
from paperwire_common.search.embedded.vocabulary import osa_within as _osa_within
from paperwire_common.search.port import SearchRequest
from paperwire_common.search.query import parse


def osa(a: str, b: str) -> int:
    """Reference optimal-string-alignment distance (full DP)."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def test_bounded_edit_distance_agrees_with_the_dp() -> None:
    rng = random.Random(7)
    for _ in range(5000):
        a = "".join(rng.choice("abc") for _ in range(rng.randint(0, 7)))
        b = "".join(rng.choice("abc") for _ in range(rng.randint(0, 7)))
        for k in (0, 1, 2):
            assert _osa_within(a, b, k) == (osa(a, b) <= k), (a, b, k)
    assert _osa_within("trasform", "transform", 1)
    assert _osa_within("transfrom", "transform", 1)  # one transposition
    assert not _osa_within("ca", "abc", 2)  # OSA, not unrestricted Damerau: 3


def test_fts_expression_keeps_optional_clauses_scoring_and_has_a_unary_not() -> None:
    ix = EmbeddedIndex()
    assert ix.keyword.fts(parse("a").root) == '({title abstract} : "a")'
    want = '({title abstract} : "a") AND (({title abstract} : "b") OR every : "x")'
    assert ix.keyword.fts(parse("+a b").root) == want
    assert ix.keyword.fts(parse("-a").root) == '(every : "x") NOT (({title abstract} : "a"))'
    kw = ix.keyword.fts(parse("topic:NLP").root)
    assert kw.startswith('(topics : "') and kw[len('(topics : "') : -2].isdigit()
    assert kw == ix.keyword.fts(parse("topic:nlp").root)  # keyword clauses are case-insensitive


async def test_embedded_upgrades_a_v1_database(tmp_path: Path) -> None:
    path = str(tmp_path / "index.sqlite")
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE docs (rid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, version INTEGER NOT NULL,
                           content_hash TEXT NOT NULL, doc TEXT NOT NULL, embedding BLOB);
        CREATE VIRTUAL TABLE docs_fts USING fts5(title, abstract, tokenize = 'porter unicode61 remove_diacritics 2');
        """
    )
    body = {"id": "p1", "version": 3, "content_hash": "h", "title": "Graph networks", "abstract": "About graphs."}
    db.execute("INSERT INTO docs VALUES (1, 'p1', 3, 'h', ?, NULL)", (json.dumps(body),))
    db.execute("INSERT INTO docs_fts (rowid, title, abstract) VALUES (1, 'Graph networks', 'About graphs.')")
    db.commit()
    db.close()
    ix = EmbeddedIndex(path)
    assert [h.id for h in (await ix.search(SearchRequest(parse("graph")))).hits] == ["p1"]
    assert await ix.snapshot() == {"p1": 3}
    await ix.stop()
    again = EmbeddedIndex(path)  # now current: opened as is
    assert await again.count() == 1
    await again.stop()


def test_suggestion_normalisation() -> None:
    assert suggest_prefix("  Café-Au ") == "cafe au"
    assert suggest_suffixes("Time-Series: a Survey") == [
        (0, "time series a survey"),
        (1, "series a survey"),
        (2, "a survey"),
        (3, "survey"),
    ]
    # earlier word first, then titles before topics before methods, then shorter first
    assert suggest_rank(0, "title", "x" * 80) < suggest_rank(1, "title", "x")
    assert suggest_rank(0, "method", "m") > suggest_rank(0, "title", "x" * 80)
    assert suggest_rank(0, "title", "short") < suggest_rank(0, "title", "a longer title")


def test_elasticsearch_translation() -> None:
    assert _word_prefix_regex("time se") == "(.*[^a-zA-Z0-9])?[tT][iI][mM][eE][^a-zA-Z0-9]+[sS][eE].*"
    pq = parse("graph -code:yes")
    q = _node(pq.root, pq.typo_words)
    assert q == {
        "bool": {
            "should": [
                {
                    "multi_match": {
                        "query": "graph",
                        "fields": ["title^3", "abstract"],
                        "type": "most_fields",
                        "operator": "and",
                        "fuzziness": "AUTO:4,8",
                        "prefix_length": 1,
                    }
                }
            ],
            "minimum_should_match": 1,
            "must_not": [{"bool": {"filter": [{"term": {"has_code": True}}]}}],
        }
    }
    body = stored_body({"id": "p", "title": "Deep-Nets!"})
    assert (body["title_start"], body["title_suffixes"], body["title_len"]) == ("deep nets", ["deep nets", "nets"], 10)


@pytest.mark.parametrize("q", ['"exact phrase"', "title:word"])
def test_no_typo_tolerance_outside_free_words(q: str) -> None:
    pq = parse(q)
    assert "fuzziness" not in json.dumps(keyword_query(pq, frozenset({"exact", "phrase", "word"})))


def test_highlights_are_computed_without_fuzzy_expansion() -> None:
    """Highlighting a fuzzy query re-expands every typo neighbour on every hit: it tripled the search cost."""
    q = parse("graph transformr")
    assert "fuzziness" in json.dumps(_node(q.root, q.typo_words))
    assert "fuzziness" not in json.dumps(_node(q.root))
    exact, fuzzy = json.dumps(_node(q.root)), json.dumps(_node(q.root, q.typo_words))
    assert exact.count('"query"') == fuzzy.count('"query"') == 2  # the same clauses, exact ones as BM25F


def test_typo_tolerance_only_for_free_words_the_index_lacks() -> None:
    q = parse('graph Transformr "exact phrase" title:word state-of-the-art')
    assert q.typo_words == {"graph", "transformr"}
    body = json.dumps(keyword_query(q, q.typo_words - {"graph"}))
    assert body.count("fuzziness") == 1 and '"query": "Transformr", "fields"' in body
    # A long query asks for typo tolerance on its first few distinct free words only.
    many = parse(" ".join(f"word{c}" for c in "abcdefghijklmnop"))
    assert many.typo_words == {f"word{c}" for c in "abcdefgh"}


async def test_concurrent_searches_probe_a_new_word_once() -> None:
    """Hybrid search runs two Elasticsearch searches at once: the vocabulary probe of a new word is shared."""
    import asyncio

    from paperwire_common.search.elastic import ElasticIndex

    calls: list[list[str]] = []

    class FakeES:
        async def msearch(self, searches: list[dict[str, Any]]) -> dict[str, Any]:
            words = [s["query"]["multi_match"]["query"] for s in searches[1::2]]
            calls.append(words)
            await asyncio.sleep(0.01)
            return {"responses": [{"hits": {"total": {"value": int(w == "graph")}}} for w in words]}

    ix = ElasticIndex("http://127.0.0.1:1")
    real, ix.known_words.es = ix.es, FakeES()  # type: ignore[assignment]
    try:
        a, b = await asyncio.gather(ix.known_words({"graph", "trasformer"}), ix.known_words({"graph", "trasformer"}))
        assert a == b == frozenset({"graph"})
        assert calls == [["graph", "trasformer"]]
        assert await ix.known_words({"graph"}) == {"graph"} and len(calls) == 1  # known words are cached
        await ix.known_words({"trasformer"})  # an unknown word is asked again later (it may have arrived)
        assert calls[1:] == [["trasformer"]]
    finally:
        await real.close()


class _Refusing:
    """An Elasticsearch client whose bulk answers a fixed status per document id, every time."""

    def __init__(self, **statuses: int) -> None:
        self.statuses, self.calls = statuses, 0

    async def bulk(self, operations: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        kinds = {429: "es_rejected_execution_exception", 400: "mapper_parsing_exception", 201: ""}
        items = []
        for op in operations[0::2]:
            doc_id = op["index"]["_id"]
            st = self.statuses[doc_id]
            items.append({"index": {"_id": doc_id, "status": st, "error": {"type": kinds[st], "reason": "x"}}})
        return {"errors": True, "items": items}


async def test_transient_refusals_fail_the_batch_instead_of_dead_lettering(monkeypatch: pytest.MonkeyPatch) -> None:
    # Regression: documents still refused with 429/5xx after the retries came back as failures, which the indexer
    # dead-letters: a busy Elasticsearch turned good papers into dead letters. Now the batch fails (the consumer
    # loop retries it after its backoff); only a document's own error (4xx) is a failure to dead-letter.
    from paperwire_common.search.elastic import ElasticIndex, IndexUnavailable

    monkeypatch.setattr("paperwire_common.search.elastic.index.asyncio.sleep", _no_sleep)
    ix = ElasticIndex("http://127.0.0.1:1", "papers", max_retries=2)
    real = ix.es

    async def no_topics(*_: Any) -> Any:  # the topic assignments index is not what this test is about
        return {}

    monkeypatch.setattr(ix.assignments, "read", no_topics)
    monkeypatch.setattr(ix.assignments, "settle", no_topics)
    docs = [{"id": f"p{i}", "version": 1, "content_hash": "h", "title": "t", "abstract": ""} for i in range(3)]
    try:
        busy = _Refusing(p0=201, p1=429, p2=400)
        ix.es = busy  # type: ignore[assignment]
        with pytest.raises(IndexUnavailable, match="429"):
            await ix.upsert(docs)
        assert busy.calls == 3  # the first try and two retries
        bad = _Refusing(p0=201, p1=400, p2=201)
        ix.es = bad  # type: ignore[assignment]
        [failure] = await ix.upsert(docs)
        assert failure.paper_id == "p1" and "mapper_parsing_exception" in failure.reason and bad.calls == 1
    finally:
        await real.close()


async def _no_sleep(_: float) -> None:
    return None


async def test_a_v2_embedded_index_gains_the_arrival_column_from_its_documents(tmp_path: Path) -> None:
    path = str(tmp_path / "index.sqlite")
    ix = EmbeddedIndex(path)
    docs = [
        {"id": "old", "version": 1, "content_hash": "h", "title": "Old graphs", "ingested_at": 100.0},
        {"id": "new", "version": 1, "content_hash": "h", "title": "New graphs", "ingested_at": 200.0},
        {"id": "none", "version": 1, "content_hash": "h", "title": "Graphs of no arrival"},
    ]
    assert await ix.upsert(docs) == []
    await ix.stop()
    db = sqlite3.connect(path)  # back to schema v2: no `arrived` column
    db.executescript("DROP INDEX docs_arrival; ALTER TABLE docs DROP COLUMN arrived; PRAGMA user_version = 2;")
    db.close()
    ix = EmbeddedIndex(path)
    try:
        got = await ix.search(SearchRequest(parse("graphs"), order="arrival", highlight=False))
        assert [h.id for h in got.hits] == ["new", "old", "none"]
        assert ix.store.db.execute("PRAGMA user_version").fetchone()[0] == 3
    finally:
        await ix.stop()
