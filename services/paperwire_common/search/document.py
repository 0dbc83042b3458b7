"""The indexed document: a flat view of PaperEnriched, the same on every backend."""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Literal

from ..events import PaperEnriched


def year_of(date: str | None) -> int | None:
    if date and len(date) >= 4 and date[:4].isdigit():
        return int(date[:4])
    return None


def to_document(e: PaperEnriched) -> dict[str, Any]:
    p = e.paper
    doc: dict[str, Any] = {
        "id": p.paper_id,
        "version": p.version,
        "content_hash": p.content_hash,
        "title": p.title,
        "abstract": p.abstract,
        "authors": [a.name for a in p.authors],
        "arxiv_id": p.arxiv_id,
        "arxiv_version": p.arxiv_version,
        "doi": p.doi,
        "categories": p.categories,
        "published_at": p.published_at,
        "year": year_of(p.published_at),
        "source": p.source,
        "source_url": p.source_url,
        "keyphrases": e.keyphrases,
        "topics": e.topics,
        "topic_labels": e.topic_labels,
        "methods": [m.name for m in e.methods] + [m.acronym for m in e.methods if m.acronym],
        "datasets": [d.name for d in e.datasets] + [d.acronym for d in e.datasets if d.acronym],
        "code_urls": e.code_urls,
        "project_urls": e.project_urls,
        "code_url": e.code_urls[0] if e.code_urls else None,
        "has_code": bool(e.code_urls),
        "ingested_at": p.ingested_at,
        "summary": e.summary,
        "embedding": e.embedding,
    }
    return {k: v for k, v in doc.items() if v is not None}


# What a search hit returns when `fields=` is not given (the embedding stays server-side).
DEFAULT_FIELDS = (
    "id",
    "title",
    "abstract",
    "authors",
    "arxiv_id",
    "doi",
    "published_at",
    "year",
    "source",
    "topics",
    "topic_labels",
    "keyphrases",
    "methods",
    "datasets",
    "code_url",
    "code_urls",
    "project_urls",
    "has_code",
    "version",
    "summary",
)

FACET_SIZE = 20  # values per facet, most frequent first (ties by value)

# Suggestions (both adapters): a title, topic label or method name matches a prefix when one of its words starts
# with it (case- and accent-insensitive; a multi-word prefix must match consecutive words). Ranking key:
# (word position of the match, kind: title < topic < method, length of the text, text), so "tim" lists titles
# starting with Time... first, shortest first. Only the first SUGGEST_MAX_CHARS of each word-suffix are indexed
# (bounded keyword terms), so longer prefixes are cut to that.
SuggestKind = Literal["title", "topic", "method"]
SUGGEST_KINDS: tuple[SuggestKind, ...] = ("title", "topic", "method")
SUGGEST_MAX_CHARS = 50
SUGGEST_MAX_POS = 99
_WORD = re.compile(r"[^\W_]+")


def fold_words(text: str) -> list[str]:
    """Lower-cased, accent-folded words: the suggestion analyzer (standard tokenizer + lowercase + asciifolding)."""
    if not text.isascii():  # ASCII has nothing to fold (and the per-character pass is the cost)
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _WORD.findall(text.lower())


def suggest_suffixes(text: str) -> list[tuple[int, str]]:
    """(word position, normalised text from that word on) for every word start of `text`."""
    words = fold_words(text)
    return [(i, " ".join(words[i:])[:SUGGEST_MAX_CHARS]) for i in range(min(len(words), SUGGEST_MAX_POS + 1))]


def suggest_prefix(prefix: str) -> str:
    """The normalised prefix to look up ("" when it has no word)."""
    words = fold_words(prefix)
    return " ".join(words)[:SUGGEST_MAX_CHARS]


def suggest_rank(pos: int, kind: SuggestKind, text: str) -> tuple[int, int, int, str]:
    return (pos, SUGGEST_KINDS.index(kind), len(text), text.lower())
