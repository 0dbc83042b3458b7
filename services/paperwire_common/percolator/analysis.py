"""Text analysis for percolation: the embedded index's own tokenizer (SQLite FTS5 `porter unicode61
remove_diacritics 2`, the Porter stemmer Elasticsearch's `english` stemmer also is), so a saved search matches
what `/v1/search` matches. A batch of documents is analysed in one pass: inserted into a contentless FTS5 table
and read back, with positions, from its fts5vocab `instance` table."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

TOKENIZER = "tokenize = 'porter unicode61 remove_diacritics 2'"
# The columns a query can name (title/abstract also serve free words), joined as the embedded index joins them.
TEXT_COLUMNS = ("title", "abstract", "authors", "methods", "datasets")
KEYWORD_FIELDS = ("topics", "source", "has_code")
_CACHE_MAX = 50_000


@dataclass
class AnalyzedDoc:
    index: int  # position in its batch
    id: str
    columns: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # column -> term -> positions
    keywords: dict[str, set[str]] = field(default_factory=dict)  # field -> lower-cased values

    def text_terms(self) -> Iterable[str]:
        yield from self.columns.get("title", {})
        yield from self.columns.get("abstract", {})


def keyword_values(doc: dict[str, Any]) -> dict[str, set[str]]:
    """What the query language's keyword fields match, lower-cased: topic ids and labels, source, has_code."""
    topics = {str(t).lower() for t in (doc.get("topics") or [])} | {
        str(t).lower() for t in (doc.get("topic_labels") or [])
    }
    out = {"topics": topics, "source": {str(doc["source"]).lower()} if doc.get("source") is not None else set()}
    out["has_code"] = {str(bool(doc["has_code"])).lower()} if doc.get("has_code") is not None else set()
    return out


def _column_text(doc: dict[str, Any], col: str) -> str:
    v = doc.get(col)
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return str(v or "")


class Analyzer:
    def __init__(self) -> None:
        self.db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        cols = ", ".join(TEXT_COLUMNS)
        self.db.executescript(
            f"CREATE VIRTUAL TABLE temp.docs USING fts5({cols}, content = '', {TOKENIZER});"
            "CREATE VIRTUAL TABLE temp.docs_i USING fts5vocab(temp, docs, 'instance');"
        )
        self._cache: dict[str, tuple[str, ...]] = {}

    def terms(self, text: str) -> tuple[str, ...]:
        """The stemmed tokens of one query text, in order."""
        got = self._cache.get(text)
        if got is None:
            got = self.terms_many([text])[0]
        return got

    def terms_many(self, texts: Sequence[str]) -> list[tuple[str, ...]]:
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if todo:
            if len(self._cache) > _CACHE_MAX:
                self._cache.clear()
            self.db.executemany("INSERT INTO temp.docs (rowid, title) VALUES (?, ?)", enumerate(todo))
            got: dict[int, list[tuple[int, str]]] = {}
            for term, doc, off in self.db.execute("SELECT term, doc, offset FROM temp.docs_i"):
                got.setdefault(doc, []).append((off, term))
            self.db.execute("INSERT INTO temp.docs (docs) VALUES ('delete-all')")
            for i, t in enumerate(todo):
                self._cache[t] = tuple(term for _, term in sorted(got.get(i, [])))
        return [self._cache[t] for t in texts]

    def documents(self, docs: Sequence[dict[str, Any]]) -> list[AnalyzedDoc]:
        """Every document's columns (term -> positions) and keyword values; docs are index documents
        (paperwire_common.search.document.to_document)."""
        out = [
            AnalyzedDoc(i, str(d.get("id", "")), {c: {} for c in TEXT_COLUMNS}, keyword_values(d))
            for i, d in enumerate(docs)
        ]
        marks = ",".join("?" * len(TEXT_COLUMNS))
        self.db.executemany(
            f"INSERT INTO temp.docs (rowid, {', '.join(TEXT_COLUMNS)}) VALUES (?, {marks})",
            [(i, *(_column_text(d, c) for c in TEXT_COLUMNS)) for i, d in enumerate(docs)],
        )
        for term, doc, col, off in self.db.execute("SELECT term, doc, col, offset FROM temp.docs_i"):
            out[doc].columns[col].setdefault(term, []).append(off)
        self.db.execute("INSERT INTO temp.docs (docs) VALUES ('delete-all')")
        return out
