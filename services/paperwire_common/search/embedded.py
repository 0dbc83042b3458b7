"""SearchIndex with no server: SQLite FTS5 (Porter stemming, BM25) for text, numpy for vectors.

Same contract as the Elasticsearch adapter (tests/contract): external versions, English stemming,
per-document failures returned. Single-process; SQLite calls are short and run on the event loop.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np

from .document import DEFAULT_FIELDS
from .port import IndexFailure, SearchHit, SearchRequest, SearchResponse
from .query import Clause, ParsedQuery, parse

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (rid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, version INTEGER NOT NULL,
                                 content_hash TEXT NOT NULL, doc TEXT NOT NULL, embedding BLOB);
CREATE VIRTUAL TABLE IF NOT EXISTS docs_fts
    USING fts5(title, abstract, tokenize = 'porter unicode61 remove_diacritics 2');
"""
TEXT_FIELDS = ("title", "abstract")


def _fts_term(c: Clause) -> str:
    text = c.text.replace('"', '""')
    cols = "{title abstract}" if c.field is None else c.field
    return f'{cols} : "{text}"'


def fts_expression(pq: ParsedQuery) -> str | None:
    """FTS5 MATCH for the text clauses; None when there is no positive text clause."""
    should = [_fts_term(c) for c in pq.should if c.field in (None, *TEXT_FIELDS)]
    must = [_fts_term(c) for c in pq.must if c.field in (None, *TEXT_FIELDS)]
    neg = [_fts_term(c) for c in pq.must_not if c.field in (None, *TEXT_FIELDS)]
    parts = must + ([f"({' OR '.join(should)})"] if should else [])
    if not parts:
        return None
    expr = " AND ".join(parts)
    return f"({expr}) NOT ({' OR '.join(neg)})" if neg else expr


def _keyword_ok(doc: dict[str, Any], c: Clause) -> bool:
    if c.field == "has_code":
        return bool(doc.get("has_code")) == (c.text.lower() in ("yes", "true", "1"))
    if c.field in ("topics", "methods", "datasets", "source", "authors"):
        v = doc.get(c.field)
        vals = v if isinstance(v, list) else [v]
        return any(c.text.lower() in str(x).lower() for x in vals if x)
    return True


class EmbeddedIndex:
    def __init__(self, path: str | None = None) -> None:
        self.db = sqlite3.connect(path or ":memory:", check_same_thread=False)
        self.db.executescript(_SCHEMA)
        self._vectors: dict[str, np.ndarray] = {}
        for pid, blob in self.db.execute("SELECT id, embedding FROM docs WHERE embedding IS NOT NULL"):
            self._vectors[pid] = np.frombuffer(blob, dtype=np.float32)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.db.close()

    async def ready(self) -> bool:
        return True

    async def ensure_index(self) -> None:
        return None

    async def upsert(self, docs: Sequence[dict[str, Any]]) -> list[IndexFailure]:
        failures: list[IndexFailure] = []
        with self.db:
            for d in docs:
                try:
                    pid, version = str(d["id"]), int(d["version"])
                    row = self.db.execute("SELECT rid, version FROM docs WHERE id = ?", (pid,)).fetchone()
                    if row and row[1] >= version:
                        continue  # external versioning: same or older version is a no-op
                    emb = d.get("embedding")
                    vec = np.asarray(emb, dtype=np.float32) if emb is not None else None
                    if vec is not None and vec.shape != (384,):
                        failures.append(IndexFailure(pid, f"embedding has {vec.shape[0]} dims, expected 384"))
                        continue
                    body = {k: v for k, v in d.items() if k != "embedding"}
                    blob = vec.tobytes() if vec is not None else None
                    if row:
                        self.db.execute("DELETE FROM docs_fts WHERE rowid = ?", (row[0],))
                        self.db.execute(
                            "UPDATE docs SET version=?, content_hash=?, doc=?, embedding=? WHERE rid=?",
                            (version, d.get("content_hash", ""), json.dumps(body), blob, row[0]),
                        )
                        rid = row[0]
                    else:
                        cur = self.db.execute(
                            "INSERT INTO docs (id, version, content_hash, doc, embedding) "
                            "VALUES (?, ?, ?, ?, ?)",
                            (pid, version, d.get("content_hash", ""), json.dumps(body), blob),
                        )
                        rid = cur.lastrowid
                    self.db.execute(
                        "INSERT INTO docs_fts (rowid, title, abstract) VALUES (?, ?, ?)",
                        (rid, d.get("title", ""), d.get("abstract", "")),
                    )
                    if vec is not None:
                        self._vectors[pid] = vec
                except (KeyError, TypeError, ValueError) as e:
                    failures.append(IndexFailure(str(d.get("id", "?")), f"invalid document: {e}"))
        return failures

    async def get(self, paper_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT doc FROM docs WHERE id = ?", (paper_id,)).fetchone()
        return json.loads(row[0]) if row else None

    async def get_versions(self, paper_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        out: dict[str, tuple[int, str]] = {}
        ids = list(paper_ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            q = f"SELECT id, version, content_hash FROM docs WHERE id IN ({','.join('?' * len(chunk))})"
            out.update({r[0]: (r[1], r[2]) for r in self.db.execute(q, chunk)})
        return out

    async def refresh(self) -> None:
        return None

    async def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM docs").fetchone()[0])

    async def snapshot(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT id, version FROM docs").fetchall())

    async def search(self, req: SearchRequest) -> SearchResponse:
        pq = parse(req.q)
        expr = fts_expression(pq)
        if expr is None:
            rows = self.db.execute("SELECT rid, 0.0, doc, NULL, NULL FROM docs ORDER BY rid DESC").fetchall()
        else:
            rows = self.db.execute(
                "SELECT d.rid, -bm25(docs_fts, 3.0, 1.0) AS s, d.doc, "
                "highlight(docs_fts, 0, '<em>', '</em>'), snippet(docs_fts, 1, '<em>', '</em>', '…', 24) "
                "FROM docs_fts JOIN docs d ON d.rid = docs_fts.rowid WHERE docs_fts MATCH ? ORDER BY s DESC",
                (expr,),
            ).fetchall()
        keyword = [c for c in pq.should + pq.must if c.field not in (None, *TEXT_FIELDS)]
        excluded = [c for c in pq.must_not if c.field not in (None, *TEXT_FIELDS)]
        hits: list[SearchHit] = []
        total = 0
        fields = req.fields or DEFAULT_FIELDS
        for _rid, score, raw, hl_title, hl_abs in rows:
            doc = json.loads(raw)
            if req.has_code is not None and bool(doc.get("has_code")) != req.has_code:
                continue
            if req.topic and req.topic not in doc.get("topics", []):
                continue
            if not all(_keyword_ok(doc, c) for c in keyword) or any(_keyword_ok(doc, c) for c in excluded):
                continue
            total += 1
            if len(hits) < req.size:
                hl: dict[str, list[str]] = {}
                if hl_title and "<em>" in hl_title:
                    hl["title"] = [hl_title]
                if hl_abs and "<em>" in hl_abs:
                    hl["abstract"] = [hl_abs]
                hits.append(SearchHit(doc["id"], float(score), {k: doc[k] for k in fields if k in doc}, hl))
        return SearchResponse(total, hits)
