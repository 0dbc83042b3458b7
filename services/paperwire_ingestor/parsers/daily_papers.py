"""Hugging Face ``/api/daily_papers`` answers: a JSON list of entries, each wrapping a ``paper`` object.

Entry shape (fields we use)::

    {"paper": {"id": "2301.01234", "title", "summary", "authors": [{"name": ...}],
               "publishedAt": ISO, "upvotes": int, "githubRepo"?: url, "projectPage"?: url},
     "publishedAt", "title", "summary", "numComments", "submittedBy", ...}

``paper.publishedAt`` is the arXiv date; the entry's own ``publishedAt`` / ``submittedOnDailyAt`` is the
day it was featured, which is not a property of the paper, so it is not used. A single entry object,
or a bare paper object, is accepted too. Positions are ``"item N"`` (1-based).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from paperwire_ingestor.parsers._common import (
    add_links,
    arxiv_id_from,
    collapse,
    iso_datetime,
    to_text,
    urls_in,
)
from paperwire_ingestor.records import FormatError, ParseResult, Rejected, SourceRecord

HF_PAPER_URL = "https://huggingface.co/papers/{}"


def _author_names(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    names = (a.get("name") if isinstance(a, dict) else a for a in value)
    return [collapse(n) for n in names if isinstance(n, str) and n.strip()]


def _url(value: object) -> str | None:
    return value if isinstance(value, str) and value.startswith(("http://", "https://")) else None


def entry_to_result(entry: object, position: str) -> ParseResult:
    """One daily-papers entry (or bare paper object) -> SourceRecord, or Rejected if unusable."""
    if not isinstance(entry, dict):
        return Rejected(position, "not a JSON object")
    paper: Any = entry.get("paper", entry)
    if not isinstance(paper, dict):
        return Rejected(position, "'paper' is not an object")
    title = paper.get("title") or entry.get("title")
    if title is None:
        return Rejected(position, "missing title")
    if not isinstance(title, str):
        return Rejected(position, "title is not a string")
    if not collapse(title):
        return Rejected(position, "empty title")
    summary = paper.get("summary") or entry.get("summary") or paper.get("abstract")
    abstract = collapse(summary) if isinstance(summary, str) else ""
    parsed_id = arxiv_id_from(paper.get("id"))
    upvotes = paper.get("upvotes", entry.get("upvotes"))
    record = SourceRecord(
        title=collapse(title),
        abstract=abstract,
        authors=_author_names(paper.get("authors")),
        arxiv_id=parsed_id[0] if parsed_id else None,
        arxiv_version=parsed_id[1] if parsed_id else None,
        published_at=iso_datetime(paper.get("publishedAt")),
        source_url=HF_PAPER_URL.format(paper["id"]) if isinstance(paper.get("id"), str) else None,
        upvotes=upvotes if isinstance(upvotes, int) and not isinstance(upvotes, bool) else None,
        position=position,
    )
    add_links(record, _url(paper.get("githubRepo")), _url(paper.get("projectPage")), *urls_in(abstract))
    return record


def parse(data: bytes | str) -> Iterator[ParseResult]:
    text = to_text(data, "daily-papers")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise FormatError(f"daily-papers: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from e
    if isinstance(doc, dict):
        if "error" in doc and "title" not in doc and "paper" not in doc:
            raise FormatError(f"daily-papers: the API answered with an error: {doc['error']}")
        doc = [doc]
    if not isinstance(doc, list):
        raise FormatError(f"daily-papers: expected a JSON list or object, got {type(doc).__name__}")
    for index, entry in enumerate(doc, start=1):
        yield entry_to_result(entry, f"item {index}")
