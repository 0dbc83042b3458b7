"""Keyword search on the embedded index: the parsed query as one FTS5 MATCH expression ranked by bm25, every
match scored once into a temp table, then the total, the page and the facets as cheap queries over it; filters
as SQL; text neighbours of a paper (more-like-this)."""

from __future__ import annotations

import math
from collections import Counter
from datetime import timedelta
from typing import Any

from ...sqlite import select_in
from ..document import FACET_SIZE, fold_words
from ..port import FACET_FIELDS, Filters, SearchHit, SearchRequest, SearchResponse
from ..query import Clause, Node, QuerySyntaxError, check_date, parse
from .store import BM25, EVERY, KEYWORD_FIELDS, TEXT, Store, kw, quote
from .vocabulary import Vocabulary

_BROWSE_CACHE_MAX = 64
MLT_TERMS = 25  # Elasticsearch's max_query_terms default


class KeywordSearch:
    def __init__(self, store: Store, vocabulary: Vocabulary) -> None:
        self.store, self.db, self.vocabulary = store, store.db, vocabulary
        self._browse_cache: dict[Filters, tuple[int | None, dict[str, list[tuple[Any, int]]] | None]] = {}

    def written(self) -> None:
        """Documents changed: the cached browse totals and facets are stale."""
        self._browse_cache.clear()

    def search(self, req: SearchRequest) -> SearchResponse:
        pq = parse(req.q)
        where, params = filter_sql(req.filters)
        if pq.empty:
            return self._browse(req, where, params)
        expr = self.fts(pq)
        self.db.execute("DELETE FROM temp.hits")
        # Every match once, scored in C; the total, the page and the facets are then cheap queries over it.
        self.db.execute(
            f"INSERT INTO temp.hits (rid, score, id, year, source, has_code) "
            f"SELECT d.rid, {BM25}, d.id, d.year, d.source, d.has_code FROM docs_fts "
            f"JOIN docs d ON d.rid = docs_fts.rowid WHERE docs_fts MATCH ?{where}",
            (expr, *params),
        )
        total = int(self.db.execute("SELECT count(*) FROM temp.hits").fetchone()[0])
        last = after(req.search_after, (float, int))
        cond, cond_params = "", []
        if last is not None:
            cond, cond_params = " WHERE score < ? OR (score = ? AND id > ?)", [last[0], last[0], last[1]]
        rows = self.db.execute(
            f"SELECT rid, score, id FROM temp.hits{cond} ORDER BY score DESC, id LIMIT ?", (*cond_params, req.size)
        ).fetchall()
        docs = self.store.docs([r[0] for r in rows], req.fields)
        hits = [
            SearchHit(pid, float(score), docs[rid], self._highlights(expr, rid) if req.highlight else {}, (score, pid))
            for rid, score, pid in rows
        ]
        facets = self.facets("temp.hits d", "", []) if req.facets else {}
        return SearchResponse(total, hits, facets)

    def _browse(self, req: SearchRequest, where: str, params: list[Any]) -> SearchResponse:
        """An empty query: every document (filtered), newest first."""
        last = after(req.search_after, str)
        cond, cond_params = "", []
        if last is not None:
            cond = " AND (d.published_at < ? OR (d.published_at = ? AND d.id > ?))"
            cond_params = [last[0], last[0], last[1]]
        rows = self.db.execute(
            f"SELECT d.rid, d.published_at, d.id FROM docs d WHERE 1{where}{cond} "
            "ORDER BY d.published_at DESC, d.id LIMIT ?",
            (*params, *cond_params, req.size),
        ).fetchall()
        docs = self.store.docs([r[0] for r in rows], req.fields)
        hits = [SearchHit(pid, 0.0, docs[rid], {}, (published, pid)) for rid, published, pid in rows]
        # The total and the facets of a browse are passes over everything: cached until the next write.
        total, facets = self._browse_cache.get(req.filters, (None, None))
        if total is None:
            total = int(self.db.execute(f"SELECT count(*) FROM docs d WHERE 1{where}", params).fetchone()[0])
        if req.facets and facets is None:
            facets = self.facets("docs d", where, params)
        if len(self._browse_cache) >= _BROWSE_CACHE_MAX:
            self._browse_cache.clear()
        self._browse_cache[req.filters] = (total, facets)
        return SearchResponse(total, hits, facets if req.facets and facets is not None else {})

    def facets(self, table: str, where: str, params: list[Any]) -> dict[str, list[tuple[Any, int]]]:
        """Counts over every match: `table` is aliased `d` and has rid, year, source and has_code."""
        out: dict[str, list[tuple[Any, int]]] = {}
        for name in FACET_FIELDS:
            if name == "topics":
                sql = (
                    f"SELECT t.topic, count(*) AS c FROM {table} JOIN doc_topics t ON t.rid = d.rid WHERE 1{where} "
                    "GROUP BY t.topic ORDER BY c DESC, t.topic LIMIT ?"
                )
            else:
                col = f"d.{name}"
                sql = (
                    f"SELECT {col}, count(*) AS c FROM {table} WHERE {col} IS NOT NULL{where} "
                    f"GROUP BY {col} ORDER BY c DESC, {col} LIMIT ?"
                )
            rows = self.db.execute(sql, (*params, FACET_SIZE)).fetchall()
            out[name] = [(bool(v) if name == "has_code" else v, int(c)) for v, c in rows]
        return out

    def _highlights(self, expr: str, rid: int) -> dict[str, list[str]]:
        row = self.db.execute(
            "SELECT highlight(docs_fts, 0, '<em>', '</em>'), snippet(docs_fts, 1, '<em>', '</em>', '…', 24) "
            "FROM docs_fts WHERE docs_fts MATCH ? AND rowid = ?",
            (expr, rid),
        ).fetchone()
        hl: dict[str, list[str]] = {}
        if row and row[0] and "<em>" in row[0]:
            hl["title"] = [row[0]]
        if row and row[1] and "<em>" in row[1]:
            hl["abstract"] = [row[1]]
        return hl

    def fts(self, node: Node) -> str:
        """The FTS5 MATCH expression of a query node (fully parenthesised)."""
        if isinstance(node, Clause):
            return self._leaf(node)
        must = [f"({self.fts(n)})" for n in node.must]
        should = [f"({self.fts(n)})" for n in node.should]
        if must:
            expr = " AND ".join(must)
            if should:  # optional: they only add to the bm25 score, which sums every phrase of the query
                expr += f" AND ({' OR '.join(should)} OR {EVERY})"
        elif should:
            expr = " OR ".join(should)
        else:
            expr = EVERY
        if node.must_not:
            expr = f"({expr}) NOT ({' OR '.join(f'({self.fts(n)})' for n in node.must_not)})"
        return expr

    def _leaf(self, c: Clause) -> str:
        if c.field is None:
            words = [c.text] if c.phrase else [c.text, *self.vocabulary.expansions(c.text)]
            return " OR ".join(f"{TEXT} : {quote(w)}" for w in words)
        if c.field in KEYWORD_FIELDS:
            value = ("true" if c.yes else "false") if c.field == "has_code" else c.text
            return f"{c.field} : {quote(kw(value))}"
        return f"{c.field} : {quote(c.text)}"


def filter_sql(f: Filters) -> tuple[str, list[Any]]:
    """Filters as ` AND ...` conditions on `docs d`."""
    sql: list[str] = []
    params: list[Any] = []
    if f.topic:
        sql.append("d.rid IN (SELECT rid FROM doc_topics WHERE topic = ?)")  # one index range, not a probe per row
        params.append(f.topic)
    if f.has_code is not None:
        sql.append("d.has_code = ?")
        params.append(int(f.has_code))
    if f.source:
        sql.append("d.source = ?")
        params.append(f.source)
    if f.date_from:
        sql.append("d.published_at >= ?")  # ISO strings sort as dates; a missing date ('') is before any
        params.append(check_date(f.date_from, "date_from").isoformat())
    if f.date_to:
        # Inclusive of the whole day, also for datetimes: before the next day.
        sql.append("d.published_at <> '' AND d.published_at < ?")
        params.append((check_date(f.date_to, "date_to") + timedelta(days=1)).isoformat())
    return "".join(f" AND {s}" for s in sql), params


def after(sort: tuple[Any, ...] | None, first: type | tuple[type, ...]) -> tuple[Any, str] | None:
    """The (key, id) of a search_after, checked: it comes back from a client."""
    if sort is None:
        return None
    if len(sort) != 2 or not isinstance(sort[0], first) or not isinstance(sort[1], str):
        raise QuerySyntaxError("search_after does not come from this kind of search (use the last hit's sort)")
    return sort[0], sort[1]


def more_like_this(store: Store, vocabulary: Vocabulary, paper_id: str, size: int, filters: Filters) -> list[SearchHit]:
    doc = store.get(paper_id)
    if doc is None or size <= 0:
        return []
    title, abstract = fold_words(str(doc.get("title") or "")), fold_words(str(doc.get("abstract") or ""))
    stems = vocabulary.stems(title + abstract)
    tf: Counter[str] = Counter()
    surface: dict[str, str] = {}
    for words, weight in ((title, 3), (abstract, 1)):  # title words count like the title^3 boost
        for w in words:
            if (s := stems.get(w)) is not None:
                tf[s] += weight
                surface.setdefault(s, w)
    if not tf:
        return []
    dfs = dict(select_in(store.db, "SELECT term, df FROM terms WHERE term IN ({in})", list(tf)))
    n_docs = store.count()
    scored = sorted(
        (-f * (1 + math.log((n_docs + 1) / (dfs[s] + 1))), s)
        for s, f in tf.items()
        if dfs.get(s, 0) >= 2  # a term only this paper has cannot find a neighbour
    )
    terms = [surface[s] for _, s in scored[:MLT_TERMS]]
    if not terms:
        return []
    expr = " OR ".join(f"{TEXT} : {quote(w)}" for w in terms)
    where, params = filter_sql(filters)
    rows = store.db.execute(
        f"SELECT d.rid, {BM25} AS s, d.id FROM docs_fts JOIN docs d ON d.rid = docs_fts.rowid "
        f"WHERE docs_fts MATCH ? AND d.id <> ?{where} ORDER BY s DESC, d.id LIMIT ?",
        (expr, paper_id, *params, size),
    ).fetchall()
    docs = store.docs([r[0] for r in rows], None)
    return [SearchHit(pid, float(score), docs[rid]) for rid, score, pid in rows]
