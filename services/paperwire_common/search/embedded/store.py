"""The embedded index's database: its SQLite layout and migration, the connection, and the reads (and FTS5
expression pieces) every other part shares.

- docs: one narrow row per paper (the columns filters, facets and sorting need), bodies: its JSON and vector;
- docs_fts: FTS5 over the text fields *and* the keyword fields (as opaque tokens), so a whole boolean query, text
  and keyword clauses alike, is one MATCH expression ranked by bm25; terms: its title/abstract vocabulary;
- suggest_titles / suggest_terms: the word-suffixes of titles, topic labels and method names, for suggest;
- assignments: each paper's latest topic assignment (papers.topics.v1), also for papers not indexed yet.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ...sqlite import select_in
from ..document import DEFAULT_FIELDS

SCHEMA_VERSION = 3
TOKENIZER = "tokenize = 'porter unicode61 remove_diacritics 2'"
# `docs` is kept narrow (what filters, facets, sorting and suggestions read) so scans and joins over many
# matches stay in cache; the JSON and the vector live in `bodies`, read only for the hits returned.
SCHEMA = f"""
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
    USING fts5(title, abstract, authors, methods, datasets, topics, source, has_code, every, {TOKENIZER});
CREATE TABLE IF NOT EXISTS terms (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS suggest_titles (pos INTEGER NOT NULL, norm TEXT NOT NULL, len INTEGER NOT NULL,
                                           rid INTEGER NOT NULL, PRIMARY KEY (pos, norm, rid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS suggest_titles_rid ON suggest_titles (rid);
CREATE TABLE IF NOT EXISTS suggest_terms (kind TEXT NOT NULL, text TEXT NOT NULL, pos INTEGER NOT NULL,
                                          norm TEXT NOT NULL, refs INTEGER NOT NULL, PRIMARY KEY (kind, text, pos));
CREATE INDEX IF NOT EXISTS suggest_terms_key ON suggest_terms (kind, pos, norm, text);
CREATE TABLE IF NOT EXISTS assignments (id TEXT PRIMARY KEY, version INTEGER NOT NULL, topics TEXT NOT NULL,
                                        labels TEXT NOT NULL) WITHOUT ROWID;
"""
# Scratch space. `probe` runs the index's own tokenizer: the stems of query words, and the title+abstract terms
# of written documents for `terms` (term -> document frequency: typo candidates and more-like-this weights).
# The fts5vocab of docs_fts itself recounts every posting list on each read (seconds at 100k documents).
TEMP = f"""
CREATE TEMP TABLE IF NOT EXISTS hits (rid INTEGER PRIMARY KEY, score REAL NOT NULL, id TEXT NOT NULL,
                                      year INTEGER, source TEXT, has_code INTEGER);
CREATE TEMP TABLE IF NOT EXISTS only_ids (rid INTEGER PRIMARY KEY);
CREATE TEMP TABLE IF NOT EXISTS also_ids (rid INTEGER PRIMARY KEY);
CREATE VIRTUAL TABLE IF NOT EXISTS temp.probe USING fts5(w, content = '', {TOKENIZER});
CREATE VIRTUAL TABLE IF NOT EXISTS temp.probe_rows USING fts5vocab(temp, probe, 'row');
CREATE VIRTUAL TABLE IF NOT EXISTS temp.probe_instances USING fts5vocab(temp, probe, 'instance');
"""
# bm25 column weights (docs_fts order): title boosted like Elasticsearch's title^3; keyword columns and the
# match-everything sentinel never score, as Elasticsearch's filter clauses don't.
BM25 = "-bm25(docs_fts, 3.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0)"
EVERY = 'every : "x"'  # in every row: FTS5 has neither a unary NOT nor optional clauses, this stands in
TEXT = "{title abstract}"
KEYWORD_FIELDS = ("topics", "source", "has_code")
PROGRESS_STEPS = 10_000  # SQLite VM steps between two budget checks (well under a millisecond)


def quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def kw(value: str) -> str:
    """A keyword value as one opaque all-digit token: Porter leaves digits alone, so the match is exact
    (case-insensitive, as the Elasticsearch term queries of the query language are)."""
    return str(int.from_bytes(hashlib.blake2b(value.lower().encode(), digest_size=8).digest(), "big"))


class Store:
    def __init__(self, path: str | None = None) -> None:
        # Autocommit: writes manage their own transaction; scratch writes to temp tables must not hold one open.
        self.db = sqlite3.connect(path or ":memory:", check_same_thread=False, isolation_level=None)
        self.db.executescript(TEMP)

    def migrate(self) -> list[dict[str, Any]]:
        """Bring the schema to SCHEMA_VERSION; returns the documents of an older layout, to be written again."""
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
        self.db.executescript(SCHEMA)
        return old

    def mark_current(self) -> None:
        self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        self.db.close()

    def fill(self, table: str, paper_ids: Sequence[str]) -> None:
        """Put the rids of these papers in the temp table `table` (only_ids, also_ids)."""
        self.db.execute(f"DELETE FROM temp.{table}")
        rids = [(r[0],) for r in select_in(self.db, "SELECT rid FROM docs WHERE id IN ({in})", paper_ids)]
        self.db.executemany(f"INSERT INTO temp.{table} (rid) VALUES (?)", rids)

    @contextmanager
    def budget(self, deadline: float | None) -> Iterator[None]:
        """Interrupt any statement still running at `deadline` (time.monotonic()): it raises
        sqlite3.OperationalError ("interrupted") and its own changes are undone."""
        if deadline is None:
            yield
            return
        self.db.set_progress_handler(lambda: int(time.monotonic() > deadline), PROGRESS_STEPS)
        try:
            yield
        finally:
            self.db.set_progress_handler(None, 0)

    def get(self, paper_id: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT b.doc FROM docs d JOIN bodies b ON b.rid = d.rid WHERE d.id = ?", (paper_id,)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def get_many(self, paper_ids: Sequence[str], fields: tuple[str, ...] | None = None) -> dict[str, dict[str, Any]]:
        rids = [r[0] for r in select_in(self.db, "SELECT rid FROM docs WHERE id IN ({in})", paper_ids)]
        return {d["id"]: d for d in self.docs(rids, fields).values()}

    def get_embeddings(self, paper_ids: Sequence[str]) -> dict[str, list[float]]:
        q = (
            "SELECT d.id, b.embedding FROM docs d JOIN bodies b ON b.rid = d.rid "
            "WHERE b.embedding IS NOT NULL AND d.id IN ({in})"
        )
        return {pid: np.frombuffer(blob, dtype=np.float32).tolist() for pid, blob in select_in(self.db, q, paper_ids)}

    def get_versions(self, paper_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        q = "SELECT id, version, content_hash FROM docs WHERE id IN ({in})"
        return {r[0]: (r[1], r[2]) for r in select_in(self.db, q, paper_ids)}

    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM docs").fetchone()[0])

    def snapshot(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT id, version FROM docs").fetchall())

    def docs(self, rids: Sequence[int], fields: tuple[str, ...] | None) -> dict[int, dict[str, Any]]:
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
