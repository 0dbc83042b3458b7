"""SearchIndex with no server: SQLite FTS5 (Porter stemming, BM25) for text, numpy for vectors.

Same contract as the Elasticsearch adapter (tests/contract): external versions, English stemming, per-document
failures returned, the same query language, filters, facets, paging, kNN and suggestions. Single-process; SQLite
calls are short and run on the event loop. Layout:
- docs: one narrow row per paper (the columns filters, facets and sorting need), bodies: its JSON and vector;
- docs_fts: FTS5 over the text fields *and* the keyword fields (as opaque tokens), so a whole boolean query, text
  and keyword clauses alike, is one MATCH expression ranked by bm25; terms: its title/abstract vocabulary;
- suggest_titles / suggest_terms: the word-suffixes of titles, topic labels and method names, for suggest;
- a numpy matrix of unit vectors indexed by docs.rid, kept in step with upserts, for exact cosine kNN.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from ..sqlite import select_in
from .document import (
    DEFAULT_FIELDS,
    FACET_SIZE,
    SuggestKind,
    fold_words,
    suggest_prefix,
    suggest_rank,
    suggest_suffixes,
)
from .mapping import EMBEDDING_DIMS
from .port import FACET_FIELDS, Filters, IndexFailure, SearchHit, SearchRequest, SearchResponse, Suggestion
from .query import Clause, Node, QuerySyntaxError, check_date, parse

try:  # optional: a C implementation of the same distance
    from rapidfuzz.distance import OSA as _OSA
except ImportError:  # pragma: no cover - depends on the environment
    _OSA = None  # type: ignore[assignment]

SCHEMA_VERSION = 3
_TOKENIZER = "tokenize = 'porter unicode61 remove_diacritics 2'"
# `docs` is kept narrow (what filters, facets, sorting and suggestions read) so scans and joins over many
# matches stay in cache; the JSON and the vector live in `bodies`, read only for the hits returned.
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS docs (
    rid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, version INTEGER NOT NULL, content_hash TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '', published_at TEXT NOT NULL DEFAULT '', year INTEGER, source TEXT,
    has_code INTEGER, has_vec INTEGER NOT NULL DEFAULT 0, arrived REAL NOT NULL DEFAULT -1);
CREATE INDEX IF NOT EXISTS docs_recent ON docs (published_at DESC, id);
CREATE INDEX IF NOT EXISTS docs_arrival ON docs (arrived DESC, id);
CREATE TABLE IF NOT EXISTS bodies (rid INTEGER PRIMARY KEY, doc TEXT NOT NULL, embedding BLOB);
CREATE TABLE IF NOT EXISTS doc_topics (topic TEXT NOT NULL, rid INTEGER NOT NULL, PRIMARY KEY (topic, rid))
    WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS doc_topics_rid ON doc_topics (rid);
CREATE VIRTUAL TABLE IF NOT EXISTS docs_fts
    USING fts5(title, abstract, authors, methods, datasets, topics, source, has_code, every, {_TOKENIZER});
CREATE TABLE IF NOT EXISTS terms (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS suggest_titles (pos INTEGER NOT NULL, norm TEXT NOT NULL, len INTEGER NOT NULL,
                                           rid INTEGER NOT NULL, PRIMARY KEY (pos, norm, rid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS suggest_titles_rid ON suggest_titles (rid);
CREATE TABLE IF NOT EXISTS suggest_terms (kind TEXT NOT NULL, text TEXT NOT NULL, pos INTEGER NOT NULL,
                                          norm TEXT NOT NULL, refs INTEGER NOT NULL, PRIMARY KEY (kind, text, pos));
CREATE INDEX IF NOT EXISTS suggest_terms_key ON suggest_terms (kind, pos, norm, text);
"""
# Scratch space. `probe` runs the index's own tokenizer: the stems of query words, and the title+abstract terms
# of written documents for `terms` (term -> document frequency: typo candidates and more-like-this weights).
# The fts5vocab of docs_fts itself recounts every posting list on each read (seconds at 100k documents).
_TEMP = f"""
CREATE TEMP TABLE IF NOT EXISTS hits (rid INTEGER PRIMARY KEY, score REAL NOT NULL, id TEXT NOT NULL,
                                      year INTEGER, source TEXT, has_code INTEGER);
CREATE VIRTUAL TABLE IF NOT EXISTS temp.probe USING fts5(w, content = '', {_TOKENIZER});
CREATE VIRTUAL TABLE IF NOT EXISTS temp.probe_rows USING fts5vocab(temp, probe, 'row');
CREATE VIRTUAL TABLE IF NOT EXISTS temp.probe_instances USING fts5vocab(temp, probe, 'instance');
"""
# bm25 column weights (docs_fts order): title boosted like Elasticsearch's title^3; keyword columns and the
# match-everything sentinel never score, as Elasticsearch's filter clauses don't.
_BM25 = "-bm25(docs_fts, 3.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0)"
_EVERY = 'every : "x"'  # in every row: FTS5 has neither a unary NOT nor optional clauses, this stands in
_TEXT = "{title abstract}"
_KEYWORD_FIELDS = ("topics", "source", "has_code")
MLT_TERMS = 25  # Elasticsearch's max_query_terms default
MAX_EXPANSIONS = 50  # Elasticsearch's fuzzy max_expansions default
_STEM_CACHE_MAX = 20_000
_BROWSE_CACHE_MAX = 64
_PARTIAL_DATE = re.compile(r"\d{4}(-\d{2})?")
NO_FILTERS = Filters()


class _Invalid(ValueError):
    pass


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _kw(value: str) -> str:
    """A keyword value as one opaque all-digit token: Porter leaves digits alone, so the match is exact
    (case-insensitive, as the Elasticsearch term queries of the query language are)."""
    return str(int.from_bytes(hashlib.blake2b(value.lower().encode(), digest_size=8).digest(), "big"))


def within_edits(a: str, b: str, k: int) -> bool:
    """Optimal-string-alignment (Damerau-Levenshtein with adjacent transpositions) distance <= k: the distance
    Elasticsearch's fuzzy queries use."""
    if _OSA is not None:  # pragma: no cover - depends on the environment
        return bool(_OSA.distance(a, b, score_cutoff=k) <= k)
    return _osa_within(a, b, k)


def _osa_within(a: str, b: str, k: int) -> bool:
    # A common prefix/suffix never needs an edit; at the first difference an alignment substitutes, deletes,
    # inserts or transposes, so a depth-k search decides it without the full DP table (k <= 2 here).
    i, n = 0, min(len(a), len(b))
    while i < n and a[i] == b[i]:
        i += 1
    a, b = a[i:], b[i:]
    j, n = 0, min(len(a), len(b))
    while j < n and a[-1 - j] == b[-1 - j]:
        j += 1
    if j:
        a, b = a[:-j], b[:-j]
    if not a or not b:
        return max(len(a), len(b)) <= k
    if k == 0 or abs(len(a) - len(b)) > k:
        return False
    return (
        _osa_within(a[1:], b[1:], k - 1)
        or _osa_within(a[1:], b, k - 1)
        or _osa_within(a, b[1:], k - 1)
        or (len(a) > 1 and len(b) > 1 and a[0] == b[1] and a[1] == b[0] and _osa_within(a[2:], b[2:], k - 1))
    )


def _max_edits(term: str) -> int:
    """Elasticsearch's fuzziness AUTO:4,8 on the analysed term: exact below 4 characters, 1 edit below 8, else 2."""
    return 0 if len(term) < 4 else 1 if len(term) < 8 else 2


def _vocab_text(d: dict[str, Any]) -> str:
    """The text of a document that the `terms` vocabulary counts: title and abstract."""
    return f"{d.get('title') or ''}\n{d.get('abstract') or ''}"


# (id, version, docs columns, bodies columns, vector): a document checked and converted, ready to write
_Prepared = tuple[str, int, tuple[Any, ...], tuple[str, bytes | None], np.ndarray | None]


def _prepare(d: dict[str, Any]) -> _Prepared:
    """Check and convert one document without touching the database; raises on an invalid one."""
    pid, version = str(d["id"]), int(d["version"])
    vec: np.ndarray | None = None
    if d.get("embedding") is not None:
        vec = np.asarray(d["embedding"], dtype=np.float32)
        if vec.shape != (EMBEDDING_DIMS,):
            raise _Invalid(f"embedding has {vec.size} dims, expected {EMBEDDING_DIMS}")
        if not np.isfinite(vec).all() or not vec.any():
            raise _Invalid("embedding must be finite and non-zero (cosine similarity)")
    cols = (
        version,
        str(d.get("content_hash", "")),
        str(d.get("title") or ""),
        _published_key(d.get("published_at")),
        int(d["year"]) if d.get("year") is not None else None,
        str(d["source"]) if d.get("source") is not None else None,
        int(bool(d["has_code"])) if d.get("has_code") is not None else None,
        int(vec is not None),
        _arrived_key(d.get("ingested_at")),
    )
    body = (
        json.dumps({k: v for k, v in d.items() if k != "embedding"}),
        vec.tobytes() if vec is not None else None,
    )
    return pid, version, cols, body, vec


def _published_key(value: Any) -> str:
    """published_at as a UTC ISO string that sorts and compares as the instant Elasticsearch indexes
    ("2024" is 2024-01-01, offsets are applied); '' when missing. A date it cannot parse is a bad document."""
    if value is None:
        return ""
    s = str(value)
    if _PARTIAL_DATE.fullmatch(s):
        s = (s + "-01-01")[:10]
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise _Invalid(f"published_at {s!r} is not an ISO-8601 date") from None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt.isoformat()


def _arrived_key(value: Any) -> float:
    """ingested_at as the `arrived` column: -1 when missing, so the arrival order is total without NULLs."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return -1.0


def _filter_sql(f: Filters) -> tuple[str, list[Any]]:
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
        # Inclusive of the whole day, also for datetimes: before the next day (the last day has none).
        last = check_date(f.date_to, "date_to")
        sql.append("d.published_at <> '' AND d.published_at < ?")
        params.append((last + timedelta(days=1)).isoformat() if last < date.max else "A")  # "A" sorts after digits
    if f.arrived_from is not None:
        sql.append("d.arrived >= ?")
        params.append(float(f.arrived_from))
    if f.arrived_before is not None:
        sql.append("d.arrived >= 0 AND d.arrived < ?")
        params.append(float(f.arrived_before))
    return "".join(f" AND {s}" for s in sql), params


def _after(sort: tuple[Any, ...] | None, first: type | tuple[type, ...]) -> tuple[Any, str] | None:
    """The (key, id) of a search_after, checked: it comes back from a client."""
    if sort is None:
        return None
    if len(sort) != 2 or not isinstance(sort[0], first) or not isinstance(sort[1], str):
        raise QuerySyntaxError("search_after does not come from this kind of search (use the last hit's sort)")
    return sort[0], sort[1]


class EmbeddedIndex:
    def __init__(self, path: str | None = None) -> None:
        # Autocommit: upsert manages its own transaction; scratch writes to temp tables must not hold one open.
        self.db = sqlite3.connect(path or ":memory:", check_same_thread=False, isolation_level=None)
        self.db.executescript(_TEMP)
        self._stem_cache: dict[str, str | None] = {}
        self._browse_cache: dict[Filters, tuple[int | None, dict[str, list[tuple[Any, int]]] | None]] = {}
        self._migrate()
        self._mat = np.zeros((0, EMBEDDING_DIMS), dtype=np.float32)  # unit vectors, row = docs.rid
        self._has_vec = np.zeros(0, dtype=bool)
        for rid, blob in self.db.execute("SELECT rid, embedding FROM bodies WHERE embedding IS NOT NULL"):
            self._set_vector(rid, np.frombuffer(blob, dtype=np.float32))

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        old: list[dict[str, Any]] = []
        exists = self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'docs'").fetchone() is not None
        if version < 2 and exists:
            # v1 (docs + a title/abstract FTS table): every derived table changed, so rebuild from the documents.
            for pid, ver, chash, raw, blob in self.db.execute(
                "SELECT id, version, content_hash, doc, embedding FROM docs"
            ):
                d = {**json.loads(raw), "id": pid, "version": ver, "content_hash": chash}
                if blob is not None:
                    d["embedding"] = np.frombuffer(blob, dtype=np.float32).tolist()
                old.append(d)
            self.db.executescript("DROP TABLE IF EXISTS docs_fts; DROP TABLE IF EXISTS docs;")
        elif version == 2 and exists:
            # v2 -> v3: the `arrived` column (ingested_at) for the arrival order and filters, from the bodies.
            self.db.executescript(
                "ALTER TABLE docs ADD COLUMN arrived REAL NOT NULL DEFAULT -1;"
                "UPDATE docs SET arrived = coalesce((SELECT CASE WHEN typeof(json_extract(b.doc, '$.ingested_at'))"
                " IN ('real', 'integer') THEN json_extract(b.doc, '$.ingested_at') END"
                " FROM bodies b WHERE b.rid = docs.rid), -1);"
            )
        self.db.executescript(_SCHEMA)
        if old:
            self._write_batch(old)
        self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.db.close()

    async def ready(self) -> bool:
        return True

    async def ensure_index(self) -> None:
        return None

    # ---------------------------------------------------------------- writes

    async def upsert(self, docs: Sequence[dict[str, Any]]) -> list[IndexFailure]:
        failures, written = self._write_batch(docs)
        for rid, vec in written:  # only once committed, so the matrix never holds a rolled-back vector
            self._set_vector(rid, vec)
        if written:
            self._browse_cache.clear()
        return failures

    def _write_batch(
        self, docs: Sequence[dict[str, Any]]
    ) -> tuple[list[IndexFailure], list[tuple[int, np.ndarray | None]]]:
        failures: list[IndexFailure] = []
        written: list[tuple[int, np.ndarray | None]] = []
        added: list[str] = []  # title + abstract of written documents, and of those they replace
        removed: list[str] = []
        # Every document is checked before the first write, so the batch needs no per-document savepoint (FTS5
        # flushes its pending terms to a new segment at each one: a segment per document, then merges).
        prepared: list[tuple[dict[str, Any], _Prepared]] = []
        for d in docs:
            try:
                prepared.append((d, _prepare(d)))
            except (KeyError, TypeError, ValueError) as e:  # permanent: the caller dead-letters it
                failures.append(IndexFailure(str(d.get("id", "?")), f"invalid document: {e}"))
        self.db.execute("BEGIN")
        try:
            for d, prep in prepared:
                done = self._write(d, prep, removed)
                if done is not None:
                    written.append(done)
                    added.append(_vocab_text(d))
            self.db.executemany(
                "INSERT INTO terms (term, df) VALUES (?, ?) ON CONFLICT (term) DO UPDATE SET df = df + excluded.df",
                self._term_counts(added),
            )
            gone = [(n, t) for t, n in self._term_counts(removed)]
            self.db.executemany("UPDATE terms SET df = df - ? WHERE term = ?", gone)
            self.db.executemany("DELETE FROM terms WHERE term = ? AND df <= 0", [(t,) for _, t in gone])
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return failures, written

    def _write(self, d: dict[str, Any], prep: _Prepared, removed: list[str]) -> tuple[int, np.ndarray | None] | None:
        """Store one document; None when the stored version is the same or newer (external versioning)."""
        pid, version, cols, body, vec = prep
        row = self.db.execute(
            "SELECT d.rid, d.version, b.doc FROM docs d JOIN bodies b ON b.rid = d.rid WHERE d.id = ?", (pid,)
        ).fetchone()
        if row and row[1] >= version:
            return None
        if row:
            rid = int(row[0])
            old = json.loads(row[2])
            removed.append(_vocab_text(old))
            self._unindex(rid, old)
            self.db.execute(
                "UPDATE docs SET version=?, content_hash=?, title=?, published_at=?, year=?, source=?, has_code=?, "
                "has_vec=?, arrived=? WHERE rid = ?",
                (*cols, rid),
            )
            self.db.execute("UPDATE bodies SET doc = ?, embedding = ? WHERE rid = ?", (*body, rid))
        else:
            cur = self.db.execute(
                "INSERT INTO docs (id, version, content_hash, title, published_at, year, source, has_code, has_vec, "
                "arrived) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (pid, *cols),
            )
            rid = int(cur.lastrowid or 0)
            self.db.execute("INSERT INTO bodies (rid, doc, embedding) VALUES (?, ?, ?)", (rid, *body))
        self._index(rid, d)
        return rid, vec

    def _index(self, rid: int, d: dict[str, Any]) -> None:
        topics = [str(t) for t in d.get("topics") or []]
        labels = [str(t) for t in d.get("topic_labels") or []]
        methods = [str(m) for m in d.get("methods") or []]
        self.db.execute(
            "INSERT INTO docs_fts (rowid, title, abstract, authors, methods, datasets, topics, source, has_code, "
            "every) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'x')",
            (
                rid,
                str(d.get("title") or ""),
                str(d.get("abstract") or ""),
                ", ".join(str(a) for a in d.get("authors") or []),
                ", ".join(methods),
                ", ".join(str(x) for x in d.get("datasets") or []),
                " ".join(_kw(t) for t in topics + labels),
                _kw(str(d["source"])) if d.get("source") is not None else "",
                _kw(str(bool(d["has_code"])).lower()) if d.get("has_code") is not None else "",
            ),
        )
        self.db.executemany("INSERT OR IGNORE INTO doc_topics (topic, rid) VALUES (?, ?)", [(t, rid) for t in topics])
        title = str(d.get("title") or "")
        self.db.executemany(
            "INSERT INTO suggest_titles (pos, norm, len, rid) VALUES (?, ?, ?, ?)",
            [(pos, norm, len(title), rid) for pos, norm in suggest_suffixes(title)],
        )
        self.db.executemany(
            "INSERT INTO suggest_terms (kind, text, pos, norm, refs) VALUES (?, ?, ?, ?, 1) "
            "ON CONFLICT (kind, text, pos) DO UPDATE SET refs = refs + 1",
            list(self._suggest_terms(labels, methods)),
        )

    def _unindex(self, rid: int, old: dict[str, Any]) -> None:
        self.db.execute("DELETE FROM docs_fts WHERE rowid = ?", (rid,))
        self.db.execute("DELETE FROM doc_topics WHERE rid = ?", (rid,))
        self.db.execute("DELETE FROM suggest_titles WHERE rid = ?", (rid,))
        keys = [
            (k, t, p) for k, t, p, _ in self._suggest_terms(old.get("topic_labels") or [], old.get("methods") or [])
        ]
        self.db.executemany("UPDATE suggest_terms SET refs = refs - 1 WHERE kind = ? AND text = ? AND pos = ?", keys)
        self.db.executemany("DELETE FROM suggest_terms WHERE kind = ? AND text = ? AND pos = ? AND refs <= 0", keys)

    @staticmethod
    def _suggest_terms(labels: Iterable[Any], methods: Iterable[Any]) -> Iterable[tuple[str, str, int, str]]:
        for kind, values in (("topic", labels), ("method", methods)):
            for text in {str(v) for v in values}:
                for pos, norm in suggest_suffixes(text):
                    yield kind, text, pos, norm

    def _term_counts(self, texts: Sequence[str]) -> list[tuple[str, int]]:
        """(stemmed term, number of `texts` containing it), by the index's own tokenizer."""
        if not texts:
            return []
        self.db.executemany("INSERT INTO temp.probe (rowid, w) VALUES (?, ?)", enumerate(texts))
        rows = self.db.execute("SELECT term, doc FROM temp.probe_rows").fetchall()
        self.db.execute("INSERT INTO temp.probe (probe) VALUES ('delete-all')")
        return rows

    def _set_vector(self, rid: int, vec: np.ndarray | None) -> None:
        if rid >= len(self._has_vec):
            cap = max(rid + 1, 2 * len(self._has_vec), 1024)
            mat = np.zeros((cap, EMBEDDING_DIMS), dtype=np.float32)
            mat[: len(self._mat)] = self._mat
            has = np.zeros(cap, dtype=bool)
            has[: len(self._has_vec)] = self._has_vec
            self._mat, self._has_vec = mat, has
        if vec is None:
            self._mat[rid] = 0.0
            self._has_vec[rid] = False
        else:
            self._mat[rid] = vec / np.linalg.norm(vec)
            self._has_vec[rid] = True

    # ---------------------------------------------------------------- reads

    async def get(self, paper_id: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT b.doc FROM docs d JOIN bodies b ON b.rid = d.rid WHERE d.id = ?", (paper_id,)
        ).fetchone()
        return json.loads(row[0]) if row else None

    async def get_many(
        self, paper_ids: Sequence[str], fields: tuple[str, ...] | None = None
    ) -> dict[str, dict[str, Any]]:
        rids = [r[0] for r in select_in(self.db, "SELECT rid FROM docs WHERE id IN ({in})", paper_ids)]
        return {d["id"]: d for d in self._docs(rids, fields).values()}

    async def get_embeddings(self, paper_ids: Sequence[str]) -> dict[str, list[float]]:
        q = (
            "SELECT d.id, b.embedding FROM docs d JOIN bodies b ON b.rid = d.rid "
            "WHERE b.embedding IS NOT NULL AND d.id IN ({in})"
        )
        return {pid: np.frombuffer(blob, dtype=np.float32).tolist() for pid, blob in select_in(self.db, q, paper_ids)}

    async def get_versions(self, paper_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        q = "SELECT id, version, content_hash FROM docs WHERE id IN ({in})"
        return {r[0]: (r[1], r[2]) for r in select_in(self.db, q, paper_ids)}

    async def refresh(self) -> None:
        return None

    async def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM docs").fetchone()[0])

    async def snapshot(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT id, version FROM docs").fetchall())

    def _docs(self, rids: Sequence[int], fields: tuple[str, ...] | None) -> dict[int, dict[str, Any]]:
        """rid -> the returned document: `fields` (or the defaults), id always, the embedding only when asked."""
        keys = fields or DEFAULT_FIELDS
        vectors = bool(fields and "embedding" in fields)
        sql = f"SELECT rid, doc{', embedding' if vectors else ''} FROM bodies WHERE rid IN ({{in}})"
        out: dict[int, dict[str, Any]] = {}
        for row in select_in(self.db, sql, rids):
            doc = json.loads(row[1])
            shown = {k: doc[k] for k in keys if k in doc}
            shown["id"] = doc["id"]
            if vectors and row[2] is not None:
                shown["embedding"] = np.frombuffer(row[2], dtype=np.float32).tolist()
            out[row[0]] = shown
        return out

    # ---------------------------------------------------------------- keyword search

    async def search(self, req: SearchRequest) -> SearchResponse:
        pq = parse(req.q)
        where, params = _filter_sql(req.filters)
        if pq.empty:
            return self._browse(req, where, params)
        expr = self._fts(pq)
        self.db.execute("DELETE FROM temp.hits")
        # Every match once, scored in C; the total, the page and the facets are then cheap queries over it.
        self.db.execute(
            f"INSERT INTO temp.hits (rid, score, id, year, source, has_code) "
            f"SELECT d.rid, {_BM25}, d.id, d.year, d.source, d.has_code FROM docs_fts "
            f"JOIN docs d ON d.rid = docs_fts.rowid WHERE docs_fts MATCH ?{where}",
            (expr, *params),
        )
        total = int(self.db.execute("SELECT count(*) FROM temp.hits").fetchone()[0])
        after = _after(req.search_after, (float, int))
        # (rid, score, sort key, id): the sort key is the score, or `arrived` in the arrival order
        if req.order == "arrival":
            cond, cond_params = "", []
            if after is not None:
                cond = " WHERE d.arrived < ? OR (d.arrived = ? AND h.id > ?)"
                cond_params = [after[0], after[0], after[1]]
            rows = self.db.execute(
                f"SELECT h.rid, h.score, d.arrived, h.id FROM temp.hits h JOIN docs d ON d.rid = h.rid{cond} "
                "ORDER BY d.arrived DESC, h.id LIMIT ?",
                (*cond_params, req.size),
            ).fetchall()
        else:
            cond, cond_params = "", []
            if after is not None:
                cond, cond_params = " WHERE score < ? OR (score = ? AND id > ?)", [after[0], after[0], after[1]]
            rows = self.db.execute(
                f"SELECT rid, score, score, id FROM temp.hits{cond} ORDER BY score DESC, id LIMIT ?",
                (*cond_params, req.size),
            ).fetchall()
        docs = self._docs([r[0] for r in rows], req.fields)
        hits = [
            SearchHit(pid, float(score), docs[rid], self._highlights(expr, rid) if req.highlight else {}, (key, pid))
            for rid, score, key, pid in rows
        ]
        facets = self._facets("temp.hits d", "", []) if req.facets else {}
        return SearchResponse(total, hits, facets)

    def _browse(self, req: SearchRequest, where: str, params: list[Any]) -> SearchResponse:
        """An empty query: every document (filtered), newest first (by publication, or by arrival)."""
        key = "d.arrived" if req.order == "arrival" else "d.published_at"
        after = _after(req.search_after, (float, int) if req.order == "arrival" else str)
        cond, cond_params = "", []
        if after is not None:
            cond = f" AND ({key} < ? OR ({key} = ? AND d.id > ?))"
            cond_params = [after[0], after[0], after[1]]
        rows = self.db.execute(
            f"SELECT d.rid, {key}, d.id FROM docs d WHERE 1{where}{cond} ORDER BY {key} DESC, d.id LIMIT ?",
            (*params, *cond_params, req.size),
        ).fetchall()
        docs = self._docs([r[0] for r in rows], req.fields)
        hits = [SearchHit(pid, 0.0, docs[rid], {}, (sort_key, pid)) for rid, sort_key, pid in rows]
        # The total and the facets of a browse are passes over everything: cached until the next write.
        total, facets = self._browse_cache.get(req.filters, (None, None))
        if total is None:
            total = int(self.db.execute(f"SELECT count(*) FROM docs d WHERE 1{where}", params).fetchone()[0])
        if req.facets and facets is None:
            facets = self._facets("docs d", where, params)
        if len(self._browse_cache) >= _BROWSE_CACHE_MAX:
            self._browse_cache.clear()
        self._browse_cache[req.filters] = (total, facets)
        return SearchResponse(total, hits, facets if req.facets and facets is not None else {})

    def _facets(self, table: str, where: str, params: list[Any]) -> dict[str, list[tuple[Any, int]]]:
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

    def _fts(self, node: Node) -> str:
        """The FTS5 MATCH expression of a query node (fully parenthesised)."""
        if isinstance(node, Clause):
            return self._leaf(node)
        must = [f"({self._fts(n)})" for n in node.must]
        should = [f"({self._fts(n)})" for n in node.should]
        if must:
            expr = " AND ".join(must)
            if should:  # optional: they only add to the bm25 score, which sums every phrase of the query
                expr += f" AND ({' OR '.join(should)} OR {_EVERY})"
        elif should:
            expr = " OR ".join(should)
        else:
            expr = _EVERY
        if node.must_not:
            expr = f"({expr}) NOT ({' OR '.join(f'({self._fts(n)})' for n in node.must_not)})"
        return expr

    def _leaf(self, c: Clause) -> str:
        if c.field is None:
            words = [c.text] if c.phrase else [c.text, *self._expansions(c.text)]
            return " OR ".join(f"{_TEXT} : {_quote(w)}" for w in words)
        if c.field in _KEYWORD_FIELDS:
            value = ("true" if c.yes else "false") if c.field == "has_code" else c.text
            return f"{c.field} : {_quote(_kw(value))}"
        return f"{c.field} : {_quote(c.text)}"

    # ---------------------------------------------------------------- vocabulary: typos and more-like-this

    def _stems(self, words: Iterable[str]) -> dict[str, str | None]:
        """word -> its stem as the index has it (None: not a single token)."""
        words = list(words)
        todo = [w for w in dict.fromkeys(words) if w not in self._stem_cache]
        if todo:
            if len(self._stem_cache) > _STEM_CACHE_MAX:
                self._stem_cache.clear()
            self.db.executemany("INSERT INTO temp.probe (rowid, w) VALUES (?, ?)", enumerate(todo))
            got: dict[int, list[str]] = {}
            for doc, term in self.db.execute("SELECT doc, term FROM temp.probe_instances"):
                got.setdefault(doc, []).append(term)
            self.db.execute("INSERT INTO temp.probe (probe) VALUES ('delete-all')")
            for i, w in enumerate(todo):
                terms = got.get(i, [])
                self._stem_cache[w] = terms[0] if len(terms) == 1 else None
        return {w: self._stem_cache.get(w) for w in words}

    def _expansions(self, word: str) -> list[str]:
        """Typo tolerance: vocabulary terms close to a free word that is not itself in the vocabulary."""
        w = word.lower()
        if not w.isalnum():
            return []
        stem = self._stems([w])[w]
        if stem is None or (k := _max_edits(stem)) == 0:
            return []
        if self.db.execute("SELECT 1 FROM terms WHERE term = ?", (stem,)).fetchone():
            return []  # exact matches only: so they always outrank would-be fuzzy ones
        # prefix_length 1: the first letter is never the typo. One range scan of the terms starting with it.
        first = stem[0]
        rows = self.db.execute(
            "SELECT term, df FROM terms WHERE term >= ? AND term < ? AND length(term) BETWEEN ? AND ?",
            (first, chr(ord(first) + 1), len(stem) - k, len(stem) + k),
        )
        near = sorted((1 if within_edits(stem, t, 1) else 2, -df, t) for t, df in rows if within_edits(stem, t, k))
        cands = [t for _, _, t in near[:MAX_EXPANSIONS]]
        stems = self._stems(cands)
        return [t for t in cands if stems[t] == t]  # a stem that stems to itself finds what it stands for

    # ---------------------------------------------------------------- vectors and neighbours

    async def knn(
        self,
        vector: Sequence[float],
        k: int,
        filters: Filters = NO_FILTERS,
        fields: tuple[str, ...] | None = None,
        exclude_ids: Sequence[str] = (),
    ) -> list[SearchHit]:
        q = np.asarray(vector, dtype=np.float32)
        if q.shape != (EMBEDDING_DIMS,):
            raise ValueError(f"query vector has {q.size} dims, expected {EMBEDDING_DIMS}")
        norm = float(np.linalg.norm(q))
        n = len(self._has_vec)
        if k <= 0 or n == 0 or not math.isfinite(norm) or norm == 0.0:
            return []
        allowed = self._has_vec.copy()
        if not filters.empty:
            where, params = _filter_sql(filters)
            rows = self.db.execute(f"SELECT d.rid FROM docs d WHERE d.has_vec = 1{where}", params)
            mask = np.zeros(n, dtype=bool)
            mask[np.fromiter((r[0] for r in rows), dtype=np.int64)] = True
            allowed &= mask
        if exclude_ids:
            excluded = select_in(self.db, "SELECT rid FROM docs WHERE id IN ({in})", exclude_ids)
            allowed[[r[0] for r in excluded]] = False
        k = min(k, int(allowed.sum()))
        if k == 0:
            return []
        scores = np.where(allowed, self._mat @ (q / norm), -np.inf)  # exact cosine: rows are unit vectors
        top = [int(r) for r in np.argpartition(-scores, k - 1)[:k]]
        ids = dict(select_in(self.db, "SELECT rid, id FROM docs WHERE rid IN ({in})", top))
        docs = self._docs(top, fields)
        hits = [SearchHit(ids[r], float(scores[r]), docs[r]) for r in top]
        hits.sort(key=lambda h: (-h.score, h.id))
        return hits

    async def more_like_this(self, paper_id: str, size: int, filters: Filters = NO_FILTERS) -> list[SearchHit]:
        doc = await self.get(paper_id)
        if doc is None or size <= 0:
            return []
        title, abstract = fold_words(str(doc.get("title") or "")), fold_words(str(doc.get("abstract") or ""))
        stems = self._stems(title + abstract)
        tf: Counter[str] = Counter()
        surface: dict[str, str] = {}
        for words, weight in ((title, 3), (abstract, 1)):  # title words count like the title^3 boost
            for w in words:
                if (s := stems.get(w)) is not None:
                    tf[s] += weight
                    surface.setdefault(s, w)
        if not tf:
            return []
        dfs = dict(select_in(self.db, "SELECT term, df FROM terms WHERE term IN ({in})", list(tf)))
        n_docs = await self.count()
        scored = sorted(
            (-f * (1 + math.log((n_docs + 1) / (dfs[s] + 1))), s)
            for s, f in tf.items()
            if dfs.get(s, 0) >= 2  # a term only this paper has cannot find a neighbour
        )
        terms = [surface[s] for _, s in scored[:MLT_TERMS]]
        if not terms:
            return []
        expr = " OR ".join(f"{_TEXT} : {_quote(w)}" for w in terms)
        where, params = _filter_sql(filters)
        rows = self.db.execute(
            f"SELECT d.rid, {_BM25} AS s, d.id FROM docs_fts JOIN docs d ON d.rid = docs_fts.rowid "
            f"WHERE docs_fts MATCH ? AND d.id <> ?{where} ORDER BY s DESC, d.id LIMIT ?",
            (expr, paper_id, *params, size),
        ).fetchall()
        docs = self._docs([r[0] for r in rows], None)
        return [SearchHit(pid, float(score), docs[rid]) for rid, score, pid in rows]

    # ---------------------------------------------------------------- suggestions

    async def suggest(self, prefix: str, size: int) -> list[Suggestion]:
        p = suggest_prefix(prefix)
        if not p or size <= 0:
            return []
        bounds = (p, p + "\U0010ffff")
        found: list[tuple[tuple[int, int, int, str], Suggestion]] = []
        seen: set[tuple[str, str]] = set()
        # Titles: walk word positions in order, each an index range scan, until `size` distinct titles.
        max_pos = self.db.execute("SELECT max(pos) FROM suggest_titles").fetchone()[0]
        rids: set[int] = set()
        titles = 0
        for pos in range((max_pos if max_pos is not None else -1) + 1):
            if titles >= size:
                break
            # The shortest matches at this position, from the covering primary key alone; then their titles.
            top = self.db.execute(
                "SELECT rid FROM suggest_titles WHERE pos = ? AND norm >= ? AND norm < ? ORDER BY len, rid LIMIT ?",
                (pos, *bounds, 2 * size + len(rids)),
            ).fetchall()
            named = {
                r: (pid, title)
                for r, pid, title in select_in(
                    self.db, "SELECT rid, id, title FROM docs WHERE rid IN ({in})", [r for (r,) in top]
                )
            }
            for (rid,) in top:
                pid, title = named[rid]
                if rid in rids or ("title", title.lower()) in seen:
                    continue
                rids.add(rid)
                seen.add(("title", title.lower()))
                found.append((suggest_rank(pos, "title", title), Suggestion(title, "title", pid)))
                titles += 1
        kinds: tuple[SuggestKind, ...] = ("topic", "method")
        for kind in kinds:
            max_pos = self.db.execute("SELECT max(pos) FROM suggest_terms WHERE kind = ?", (kind,)).fetchone()[0]
            got = 0
            for pos in range((max_pos if max_pos is not None else -1) + 1):
                if got >= size:
                    break
                rows = self.db.execute(
                    "SELECT text FROM suggest_terms WHERE kind = ? AND pos = ? AND norm >= ? AND norm < ? "
                    "ORDER BY length(text), text LIMIT ?",
                    (kind, pos, *bounds, 2 * size),
                ).fetchall()
                for (text,) in rows:
                    if (kind, text.lower()) not in seen:
                        seen.add((kind, text.lower()))
                        found.append((suggest_rank(pos, kind, text), Suggestion(text, kind)))
                        got += 1
        found.sort(key=lambda x: x[0])
        return [s for _, s in found[:size]]
