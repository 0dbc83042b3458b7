"""Text analysis for percolation: the embedded index's own tokenizer (SQLite FTS5 `porter unicode61
remove_diacritics 2`, the Porter stemmer Elasticsearch's `english` stemmer also is), so a saved search matches
what `/v1/search` matches.

FTS5 analyses each distinct whitespace-separated chunk of text once (inserted into a contentless FTS5 table, read
back from its fts5vocab `instance` table) and the result is cached; a document's token sequence is its chunks'
tokens in order. That is exactly FTS5's analysis of the whole text: unicode61 splits at every character that is not
a letter, digit or private-use character (whitespace among them) and stems each token alone, so no token spans
whitespace and a chunk's tokens do not depend on its neighbours. Papers share most of their words: reading a
batch's every token instance back from fts5vocab cost several times more."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain, pairwise
from typing import Any

TOKENIZER = "tokenize = 'porter unicode61 remove_diacritics 2'"
# The columns a query can name (title/abstract also serve free words), joined as the embedded index joins them.
TEXT_COLUMNS = ("title", "abstract", "authors", "methods", "datasets")
KEYWORD_FIELDS = ("topics", "source", "has_code")
_CACHE_MAX = 100_000  # distinct chunks of text (words with their punctuation)


@dataclass
class AnalyzedDoc:
    index: int  # position in its batch
    id: str
    tokens: dict[str, list[str]] = field(default_factory=dict)  # column -> its terms, in order
    keywords: dict[str, set[str]] = field(default_factory=dict)  # field -> lower-cased values
    _columns: dict[str, dict[str, list[int]]] | None = field(default=None, repr=False, compare=False)
    _terms: dict[str, set[str]] = field(default_factory=dict, repr=False, compare=False)
    _pairs: dict[str, set[tuple[str, str]]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def columns(self) -> dict[str, dict[str, list[int]]]:
        """Column -> term -> positions (built on first use: phrases of three terms or more need it)."""
        if self._columns is None:
            cols: dict[str, dict[str, list[int]]] = {}
            for col, seq in self.tokens.items():
                positions: dict[str, list[int]] = {}
                for pos, term in enumerate(seq):
                    positions.setdefault(term, []).append(pos)
                cols[col] = positions
            self._columns = cols
        return self._columns

    def terms(self, column: str) -> set[str]:
        got = self._terms.get(column)
        if got is None:
            got = self._terms[column] = set(self.tokens.get(column, ()))
        return got

    def pairs(self, column: str) -> set[tuple[str, str]]:
        """Every two consecutive terms of the column."""
        got = self._pairs.get(column)
        if got is None:
            seq = self.tokens.get(column, [])
            got = self._pairs[column] = set(pairwise(seq))
        return got

    def text_terms(self) -> set[str]:
        return self.terms("title") | self.terms("abstract")


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
            got = self.terms_many([text])[text]
        return got

    def terms_many(self, texts: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """Text -> its stemmed tokens in order, for each of `texts`."""
        wanted = dict.fromkeys(texts)
        if len(self._cache) + len(wanted) > _CACHE_MAX:
            self._cache.clear()
        todo = [t for t in wanted if t not in self._cache]
        if todo:
            # One transaction: FTS5 flushes its index at every commit, which per row cost most of the time.
            got: dict[int, list[tuple[int, str]]] = {}
            self.db.execute("BEGIN")
            try:
                self.db.executemany("INSERT INTO temp.docs (rowid, title) VALUES (?, ?)", enumerate(todo))
                for term, doc, off in self.db.execute("SELECT term, doc, offset FROM temp.docs_i"):
                    got.setdefault(doc, []).append((off, term))
                self.db.execute("INSERT INTO temp.docs (docs) VALUES ('delete-all')")
            finally:
                self.db.execute("COMMIT")
            for i, t in enumerate(todo):
                self._cache[t] = tuple(term for _, term in sorted(got.get(i, [])))
        cache = self._cache
        return {t: cache[t] for t in wanted}

    def documents(self, docs: Sequence[dict[str, Any]]) -> list[AnalyzedDoc]:
        """Every document's columns (their terms in order) and keyword values; docs are index documents
        (paperwire_common.search.document.to_document)."""
        chunks = [[_column_text(d, c).split() for c in TEXT_COLUMNS] for d in docs]
        tokens = self.terms_many(ch for cols in chunks for col in cols for ch in col)
        of = tokens.__getitem__
        return [
            AnalyzedDoc(
                i,
                str(d.get("id", "")),
                {name: list(chain.from_iterable(map(of, col))) for name, col in zip(TEXT_COLUMNS, cols, strict=True)},
                keyword_values(d),
            )
            for i, (d, cols) in enumerate(zip(docs, chunks, strict=True))
        ]
