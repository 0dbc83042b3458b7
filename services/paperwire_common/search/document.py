"""The indexed document: a flat view of PaperEnriched, the same on every backend."""

from __future__ import annotations

from typing import Any

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
)
