"""Keyword search on the embedded index: the parsed query as one FTS5 MATCH expression ranked by bm25, every
match scored once into a temp table (in rowid chunks, so a time budget keeps what it found), then the total, the
page and the facets as cheap queries over it; the FTS5 expression of a query; filters as SQL."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Collection
from datetime import date, timedelta
from typing import Any

from ..document import FACET_SIZE, fold_words
from ..port import TITLE_TIER, TOTAL_EXACT_UP_TO, Filters, SearchHit, SearchRequest, SearchResponse, TotalRelation
from ..query import BoolQuery, Clause, Node, QuerySyntaxError, check_date
from .store import BM25, EVERY, KEYWORD_FIELDS, TEXT, Store, kw, quote
from .vocabulary import Vocabulary

_BROWSE_CACHE_MAX = 64
CHUNK_ROWS = 8192  # rowids matched per statement: what a search keeps when its budget runs out mid-way
_INSERT = "INSERT OR IGNORE INTO temp.hits (rid, score, id, year, source, has_code) "
_Facets = dict[str, list[tuple[Any, int]]]


class KeywordSearch:
    def __init__(self, store: Store, vocabulary: Vocabulary) -> None:
        self.store, self.db, self.vocabulary = store, store.db, vocabulary
        self._browse_cache: dict[tuple[Filters, tuple[str, ...]], tuple[int, _Facets]] = {}

    def written(self) -> None:
        """Documents changed: the cached browse totals and facets are stale."""
        self._browse_cache.clear()

    def search(self, req: SearchRequest) -> SearchResponse:
        pq = req.query
        where, params = filter_sql(req.filters)
        if req.only is not None:
            self.store.fill("only_ids", req.only)
            where += " AND d.rid IN (SELECT rid FROM temp.only_ids)"
        if pq.empty:
            return self._browse(req, where, params)
        # FTS5 scores the optional clauses of `x AND (y OR every) NOT z` as if y never matched: the root's exclusions
        # are an anti-join instead, so bm25 sees the positive part alone.
        root = pq.root
        phrases = pq.required_phrases
        must = [n for n in root.must if not any(n is p for p in phrases)]
        must += [BoolQuery(must=[Clause(w, p.field) for w in fold_words(p.text)]) for p in phrases]
        expr = self.fts(BoolQuery(should=root.should, must=must), pq.typo_words)
        match_where, match_params = where, params
        for p in phrases:
            match_where += " AND d.rid IN (SELECT rowid FROM docs_fts WHERE docs_fts MATCH ?)"
            match_params = [*match_params, self.fts(p)]
        if root.must_not:
            negative = self.fts(BoolQuery(should=root.must_not), pq.typo_words)
            match_where += " AND d.rid NOT IN (SELECT rowid FROM docs_fts WHERE docs_fts MATCH ?)"
            match_params = [*match_params, negative]
        self.db.execute("DELETE FROM temp.hits")
        timed_out = self._match(expr, match_where, match_params, req.budget_s)
        if req.also:
            # The other retriever's documents that satisfy the constraints, unscored unless they matched above.
            self.store.fill("also_ids", req.also)
            cond, cond_params = self.constraint_sql(pq.constraints)
            self.db.execute(
                f"{_INSERT}SELECT d.rid, 0.0, d.id, d.year, d.source, d.has_code FROM docs d "
                f"WHERE d.rid IN (SELECT rid FROM temp.also_ids){cond}{where}",
                (*cond_params, *params),
            )
        if pq.title_phrase is not None:
            self.db.execute(
                "UPDATE temp.hits SET score = score + ? WHERE rid IN (SELECT rowid FROM docs_fts WHERE docs_fts "
                "MATCH ?)",
                (TITLE_TIER, f"title : {quote(pq.title_phrase)}"),
            )
        count = int(self.db.execute("SELECT count(*) FROM temp.hits").fetchone()[0])
        rows = self._page(req)
        docs = self.store.docs([r[0] for r in rows], req.fields)
        marks = " OR ".join(f"({self._leaf(c, ())})" for c in pq.highlight) if req.highlight else ""
        hits = []
        for rid, score, key, pid in rows:
            tier = score >= TITLE_TIER
            hl = self._highlights(marks, rid) if marks else {}
            hits.append(SearchHit(pid, float(score - TITLE_TIER if tier else score), docs[rid], hl, (key, pid), tier))
        facets = self.facets("temp.hits d", "", [], req.facets)
        total, relation = counted(count, timed_out)
        return SearchResponse(total, hits, facets, relation, timed_out)

    def _page(self, req: SearchRequest) -> list[tuple[int, float, float, str]]:
        """(rid, score, sort key, id) of the page after `search_after`: the key is the score, or `arrived` in the
        arrival order."""
        last = after(req.search_after, (float, int))
        key = "d.arrived" if req.order == "arrival" else "h.score"
        cond, cond_params = "", []
        if last is not None:
            cond, cond_params = f" WHERE {key} < ? OR ({key} = ? AND h.id > ?)", [last[0], last[0], last[1]]
        return self.db.execute(
            f"SELECT h.rid, h.score, {key}, h.id FROM temp.hits h JOIN docs d ON d.rid = h.rid{cond} "
            f"ORDER BY {key} DESC, h.id LIMIT ?",
            (*cond_params, req.size),
        ).fetchall()

    def _match(self, expr: str, where: str, params: list[Any], budget_s: float | None) -> bool:
        """Every match into temp.hits, chunk by chunk of rowids; True when the budget ran out first (the chunks
        done are kept, the one running is undone)."""
        top = self.db.execute("SELECT max(rid) FROM docs").fetchone()[0] or 0
        deadline = None if budget_s is None else time.monotonic() + budget_s
        sql = (
            f"{_INSERT}SELECT d.rid, {BM25}, d.id, d.year, d.source, d.has_code FROM docs_fts "
            f"JOIN docs d ON d.rid = docs_fts.rowid WHERE docs_fts MATCH ? AND docs_fts.rowid BETWEEN ? AND ?{where}"
        )
        with self.store.budget(deadline):
            for lo in range(0, top + 1, CHUNK_ROWS):
                try:
                    self.db.execute(sql, (expr, lo, lo + CHUNK_ROWS - 1, *params))
                except sqlite3.OperationalError as e:
                    if deadline is None or "interrupt" not in str(e):
                        raise
                    return True
                if deadline is not None and time.monotonic() > deadline and lo + CHUNK_ROWS <= top:
                    return True
        return False

    def _browse(self, req: SearchRequest, where: str, params: list[Any]) -> SearchResponse:
        """An empty query: every document (filtered), newest first (by publication, or by arrival)."""
        col = "d.arrived" if req.order == "arrival" else "d.published_at"
        last = after(req.search_after, (float, int) if req.order == "arrival" else str)
        cond, cond_params = "", []
        if last is not None:
            cond = f" AND ({col} < ? OR ({col} = ? AND d.id > ?))"
            cond_params = [last[0], last[0], last[1]]
        rows = self.db.execute(
            f"SELECT d.rid, {col}, d.id FROM docs d WHERE 1{where}{cond} ORDER BY {col} DESC, d.id LIMIT ?",
            (*params, *cond_params, req.size),
        ).fetchall()
        docs = self.store.docs([r[0] for r in rows], req.fields)
        hits = [SearchHit(pid, 0.0, docs[rid], {}, (sort_key, pid)) for rid, sort_key, pid in rows]
        # The total and the facets of a browse are passes over everything: cached until the next write.
        key = (req.filters, req.facets)
        cached = self._browse_cache.get(key) if req.only is None else None
        if cached is None:
            count = int(self.db.execute(f"SELECT count(*) FROM docs d WHERE 1{where}", params).fetchone()[0])
            cached = (count, self.facets("docs d", where, params, req.facets))
            if req.only is None:
                if len(self._browse_cache) >= _BROWSE_CACHE_MAX:
                    self._browse_cache.clear()
                self._browse_cache[key] = cached
        total, relation = counted(cached[0], False)
        return SearchResponse(total, hits, cached[1], relation)

    def facets(self, table: str, where: str, params: list[Any], names: Collection[str]) -> _Facets:
        """Counts over every match of the facets asked for: `table` is aliased `d` and has rid, year, source and
        has_code."""
        out: _Facets = {}
        for name in names:
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

    def fts(self, node: Node, typo_words: Collection[str] = ()) -> str:
        """The FTS5 MATCH expression of a query node (fully parenthesised); free words in `typo_words` also
        match their typo neighbours."""
        if isinstance(node, Clause):
            return self._leaf(node, typo_words)
        must = [f"({self.fts(n, typo_words)})" for n in node.must]
        should = [f"({self.fts(n, typo_words)})" for n in node.should]
        if must:
            expr = " AND ".join(must)
            if should:  # optional: they only add to the bm25 score, which sums every phrase of the query
                expr += f" AND ({' OR '.join(should)} OR {EVERY})"
        elif should:
            expr = " OR ".join(should)
        else:
            expr = EVERY
        if node.must_not:
            expr = f"({expr}) NOT ({' OR '.join(f'({self.fts(n, typo_words)})' for n in node.must_not)})"
        return expr

    def constraint_sql(self, q: BoolQuery) -> tuple[str, list[Any]]:
        """A query's constraints as an ` AND ...` condition on `docs d` ('' when it has none)."""
        if q.empty:
            return "", []
        return " AND d.rid IN (SELECT rowid FROM docs_fts WHERE docs_fts MATCH ?)", [self.fts(q)]

    def _leaf(self, c: Clause, typo_words: Collection[str]) -> str:
        if c.field is None:
            typo = not c.phrase and c.text.lower() in typo_words
            words = [c.text, *self.vocabulary.expansions(c.text)] if typo else [c.text]
            return " OR ".join(f"{TEXT} : {quote(w)}" for w in words)
        if c.field in KEYWORD_FIELDS:
            value = ("true" if c.yes else "false") if c.field == "has_code" else c.text
            return f"{c.field} : {quote(kw(value))}"
        return f"{c.field} : {quote(c.text)}"


def counted(count: int, timed_out: bool) -> tuple[int, TotalRelation]:
    """A count as the port reports it: exact up to TOTAL_EXACT_UP_TO, a lower bound above or when cut short."""
    if count > TOTAL_EXACT_UP_TO:
        return TOTAL_EXACT_UP_TO, "gte"
    return count, "gte" if timed_out else "eq"


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
        last = check_date(f.date_to, "date_to")  # inclusive; the last day has no next day
        params.append((last + timedelta(days=1)).isoformat() if last < date.max else "A")  # "A" sorts after digits
    if f.arrived_from is not None:
        sql.append("d.arrived >= ?")
        params.append(float(f.arrived_from))
    if f.arrived_before is not None:
        sql.append("d.arrived >= 0 AND d.arrived < ?")
        params.append(float(f.arrived_before))
    return "".join(f" AND {s}" for s in sql), params


def after(sort: tuple[Any, ...] | None, first: type | tuple[type, ...]) -> tuple[Any, str] | None:
    """The (key, id) of a search_after, checked: it comes back from a client."""
    if sort is None:
        return None
    if len(sort) != 2 or not isinstance(sort[0], first) or not isinstance(sort[1], str):
        raise QuerySyntaxError("search_after does not come from this kind of search (use the last hit's sort)")
    return sort[0], sort[1]
