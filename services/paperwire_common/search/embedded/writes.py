"""Upserts: each document checked and converted before anything is written, then external versions and every
derived table (FTS, topics, vocabulary, suggestions) in one transaction."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ...sqlite import select_in
from ..document import suggest_suffixes
from ..mapping import EMBEDDING_DIMS
from ..port import IndexFailure, TopicAssignment
from .store import Store, kw
from .vocabulary import Vocabulary

_PARTIAL_DATE = re.compile(r"\d{4}(-\d{2})?")


class Invalid(ValueError):
    pass


def vocab_text(d: dict[str, Any]) -> str:
    """The text of a document that the `terms` vocabulary counts: title and abstract."""
    return f"{d.get('title') or ''}\n{d.get('abstract') or ''}"


# (id, version, docs columns, bodies columns, vector): a document checked and converted, ready to write
Prepared = tuple[str, int, tuple[Any, ...], tuple[str, bytes | None], np.ndarray | None]


def prepare(d: dict[str, Any]) -> Prepared:
    """Check and convert one document without touching the database; raises on an invalid one."""
    pid, version = str(d["id"]), int(d["version"])
    vec: np.ndarray | None = None
    if d.get("embedding") is not None:
        vec = np.asarray(d["embedding"], dtype=np.float32)
        if vec.shape != (EMBEDDING_DIMS,):
            raise Invalid(f"embedding has {vec.size} dims, expected {EMBEDDING_DIMS}")
        if not np.isfinite(vec).all() or not vec.any():
            raise Invalid("embedding must be finite and non-zero (cosine similarity)")
    cols = (
        version,
        str(d.get("content_hash", "")),
        str(d.get("title") or ""),
        published_key(d.get("published_at")),
        int(d["year"]) if d.get("year") is not None else None,
        str(d["source"]) if d.get("source") is not None else None,
        int(bool(d["has_code"])) if d.get("has_code") is not None else None,
        int(vec is not None),
        arrived_key(d.get("ingested_at")),
    )
    body = (
        json.dumps({k: v for k, v in d.items() if k != "embedding"}),
        vec.tobytes() if vec is not None else None,
    )
    return pid, version, cols, body, vec


def published_key(value: Any) -> str:
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
        raise Invalid(f"published_at {s!r} is not an ISO-8601 date") from None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt.isoformat()


def arrived_key(value: Any) -> float:
    """ingested_at as the `arrived` column: -1 when missing, so the arrival order is total without NULLs."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return -1.0


# (rid, vector) of each document written; the caller moves the vectors into the matrix once committed
Written = list[tuple[int, np.ndarray | None]]


class Writer:
    def __init__(self, store: Store, vocabulary: Vocabulary) -> None:
        self.db, self.vocabulary = store.db, vocabulary

    def write_batch(self, docs: Sequence[dict[str, Any]]) -> tuple[list[IndexFailure], Written]:
        failures: list[IndexFailure] = []
        written: Written = []
        added: list[str] = []  # title + abstract of written documents, and of those they replace
        removed: list[str] = []
        # Every document is checked before the first write, so the batch needs no per-document savepoint (FTS5
        # flushes its pending terms to a new segment at each one: a segment per document, then merges).
        prepared: list[tuple[dict[str, Any], Prepared]] = []
        assigned = self._assignments([str(d.get("id", "")) for d in docs])
        for d in docs:
            if (a := assigned.get(str(d.get("id", "")))) is not None:  # the topic job's word wins
                d = {**d, "topics": a[0], "topic_labels": a[1]}
            try:
                prepared.append((d, prepare(d)))
            except (KeyError, TypeError, ValueError) as e:  # permanent: the caller dead-letters it
                failures.append(IndexFailure(str(d.get("id", "?")), f"invalid document: {e}"))
        self.db.execute("BEGIN")
        try:
            for d, prep in prepared:
                done = self._write(d, prep, removed)
                if done is not None:
                    written.append(done)
                    added.append(vocab_text(d))
            self.db.executemany(
                "INSERT INTO terms (term, df) VALUES (?, ?) ON CONFLICT (term) DO UPDATE SET df = df + excluded.df",
                self.vocabulary.term_counts(added),
            )
            gone = [(n, t) for t, n in self.vocabulary.term_counts(removed)]
            self.db.executemany("UPDATE terms SET df = df - ? WHERE term = ?", gone)
            self.db.executemany("DELETE FROM terms WHERE term = ? AND df <= 0", [(t,) for _, t in gone])
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return failures, written

    def _assignments(self, paper_ids: Sequence[str]) -> dict[str, tuple[list[str], list[str]]]:
        q = "SELECT id, topics, labels FROM assignments WHERE id IN ({in})"
        return {pid: (json.loads(t), json.loads(lb)) for pid, t, lb in select_in(self.db, q, paper_ids)}

    def set_topics(self, assignments: Sequence[TopicAssignment]) -> bool:
        """Record the newer assignments and retopic their indexed papers, in one transaction; True when a document
        changed."""
        changed = False
        self.db.execute("BEGIN")
        try:
            for a in assignments:
                row = self.db.execute("SELECT version FROM assignments WHERE id = ?", (a.paper_id,)).fetchone()
                if row is not None and row[0] >= a.version:
                    continue  # a replay, or older than what is recorded
                topics, labels = list(a.topics), list(a.labels)
                self.db.execute(
                    "INSERT OR REPLACE INTO assignments (id, version, topics, labels) VALUES (?, ?, ?, ?)",
                    (a.paper_id, a.version, json.dumps(topics), json.dumps(labels)),
                )
                changed |= self._retopic(a.paper_id, topics, labels)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return changed

    def _retopic(self, paper_id: str, topics: list[str], labels: list[str]) -> bool:
        """Give an indexed paper these topics: its body, topic rows, FTS keyword column and label suggestions."""
        row = self.db.execute(
            "SELECT d.rid, b.doc FROM docs d JOIN bodies b ON b.rid = d.rid WHERE d.id = ?", (paper_id,)
        ).fetchone()
        if row is None:
            return False  # not indexed yet: its upsert reads the assignment
        rid, doc = int(row[0]), json.loads(row[1])
        if doc.get("topics", []) == topics and doc.get("topic_labels", []) == labels:
            return False
        old = [(k, t, p) for k, t, p, _ in suggest_terms(doc.get("topic_labels") or [], [])]
        self.db.executemany("UPDATE suggest_terms SET refs = refs - 1 WHERE kind = ? AND text = ? AND pos = ?", old)
        self.db.executemany("DELETE FROM suggest_terms WHERE kind = ? AND text = ? AND pos = ? AND refs <= 0", old)
        self.db.executemany(
            "INSERT INTO suggest_terms (kind, text, pos, norm, refs) VALUES (?, ?, ?, ?, 1) "
            "ON CONFLICT (kind, text, pos) DO UPDATE SET refs = refs + 1",
            list(suggest_terms(labels, [])),
        )
        doc["topics"], doc["topic_labels"] = topics, labels
        self.db.execute("UPDATE bodies SET doc = ? WHERE rid = ?", (json.dumps(doc), rid))
        self.db.execute("DELETE FROM doc_topics WHERE rid = ?", (rid,))
        self.db.executemany("INSERT OR IGNORE INTO doc_topics (topic, rid) VALUES (?, ?)", [(t, rid) for t in topics])
        self.db.execute("UPDATE docs_fts SET topics = ? WHERE rowid = ?", (_topic_tokens(topics, labels), rid))
        return True

    def _write(self, d: dict[str, Any], prep: Prepared, removed: list[str]) -> tuple[int, np.ndarray | None] | None:
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
            removed.append(vocab_text(old))
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
                _topic_tokens(topics, labels),
                kw(str(d["source"])) if d.get("source") is not None else "",
                kw(str(bool(d["has_code"])).lower()) if d.get("has_code") is not None else "",
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
            list(suggest_terms(labels, methods)),
        )

    def _unindex(self, rid: int, old: dict[str, Any]) -> None:
        self.db.execute("DELETE FROM docs_fts WHERE rowid = ?", (rid,))
        self.db.execute("DELETE FROM doc_topics WHERE rid = ?", (rid,))
        self.db.execute("DELETE FROM suggest_titles WHERE rid = ?", (rid,))
        keys = [(k, t, p) for k, t, p, _ in suggest_terms(old.get("topic_labels") or [], old.get("methods") or [])]
        self.db.executemany("UPDATE suggest_terms SET refs = refs - 1 WHERE kind = ? AND text = ? AND pos = ?", keys)
        self.db.executemany("DELETE FROM suggest_terms WHERE kind = ? AND text = ? AND pos = ? AND refs <= 0", keys)


def _topic_tokens(topics: list[str], labels: list[str]) -> str:
    """The FTS `topics` column: topic ids and labels as opaque tokens (topic: takes either)."""
    return " ".join(kw(t) for t in topics + labels)


def suggest_terms(labels: Iterable[Any], methods: Iterable[Any]) -> Iterable[tuple[str, str, int, str]]:
    for kind, values in (("topic", labels), ("method", methods)):
        for text in {str(v) for v in values}:
            for pos, norm in suggest_suffixes(text):
                yield kind, text, pos, norm
