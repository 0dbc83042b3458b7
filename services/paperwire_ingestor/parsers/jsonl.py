"""JSON Lines: one paper object per line, parsed line by line (constant memory).

Accepted fields: ``title``; ``abstract`` | ``summary``; ``authors`` (list of strings or of ``{"name"}``,
or one "A, B and C" string); ``arxiv_id`` | ``id`` | ``url``; ``doi``; ``published`` | ``published_at`` |
``date``; ``updated`` | ``updated_at``; ``categories`` (list or space/comma separated string); ``links``;
``upvotes``. A line holding a daily-papers entry (``{"paper": {...}}``) is read as one.

Rejected (position ``"line N"``): invalid JSON, not an object, missing/empty/non-string title, and any
known field with the wrong JSON type (a schema mismatch). A value of the right type that cannot be
interpreted (an ``id`` that is not an arXiv id, an unparseable date) is dropped, not rejected.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from paperwire_ingestor.parsers import daily_papers
from paperwire_ingestor.parsers._common import (
    add_links,
    arxiv_id_from,
    collapse,
    doi_from,
    iso_datetime,
    iter_lines,
    split_author_string,
    split_categories,
    to_text,
    urls_in,
)
from paperwire_ingestor.records import FormatError, ParseResult, Rejected, SourceRecord


class _Bad(Exception):
    """A line that is JSON but not a usable paper; the message becomes the Rejected reason."""


def _first(obj: dict[str, Any], *keys: str) -> tuple[str, Any]:
    for key in keys:
        if obj.get(key) is not None:
            return key, obj[key]
    return keys[0], None


def _typed(obj: dict[str, Any], keys: tuple[str, ...], types: tuple[type, ...], what: str) -> Any:
    key, value = _first(obj, *keys)
    if value is not None and (not isinstance(value, types) or isinstance(value, bool)):
        raise _Bad(f"{key} must be {what}")
    return value


def _authors(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return split_author_string(value)
    if not isinstance(value, list):
        raise _Bad("authors must be a list")
    names: list[str] = []
    for item in value:
        name = item.get("name") if isinstance(item, dict) else item
        if not isinstance(name, str):
            raise _Bad("authors must be strings or objects with a 'name' string")
        if name.strip():
            names.append(collapse(name))
    return names


def _string_list(obj: dict[str, Any], key: str) -> list[str]:
    value = obj.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return split_categories(value)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Bad(f"{key} must be a list of strings")
    return [v.strip() for v in value if v.strip()]


def _record(obj: dict[str, Any], position: str) -> SourceRecord:
    title = obj.get("title")
    if title is None:
        raise _Bad("missing title")
    if not isinstance(title, str):
        raise _Bad("title is not a string")
    title = collapse(title)
    if not title:
        raise _Bad("empty title")
    abstract = collapse(_typed(obj, ("abstract", "summary"), (str,), "a string"))
    arxiv_raw = _typed(obj, ("arxiv_id",), (str,), "a string")
    url = _typed(obj, ("url",), (str,), "a string")
    # "id" is often some other system's key: it only counts when it reads as an arXiv id.
    parsed = arxiv_id_from(arxiv_raw) or arxiv_id_from(obj.get("id")) or arxiv_id_from(url)
    upvotes = _typed(obj, ("upvotes",), (int,), "an integer")
    record = SourceRecord(
        title=title,
        abstract=abstract,
        authors=_authors(obj.get("authors")),
        arxiv_id=parsed[0] if parsed else None,
        arxiv_version=parsed[1] if parsed else None,
        doi=doi_from(_typed(obj, ("doi",), (str,), "a string")),
        categories=_string_list(obj, "categories"),
        published_at=iso_datetime(_typed(obj, ("published", "published_at", "date"), (str,), "a string")),
        updated_at=iso_datetime(_typed(obj, ("updated", "updated_at"), (str,), "a string")),
        source_url=url if url and url.startswith(("http://", "https://")) else None,
        upvotes=upvotes,
        position=position,
    )
    add_links(record, *_string_list(obj, "links"), *urls_in(abstract))
    return record


def parse(data: bytes | str) -> Iterator[ParseResult]:
    seen_object = False
    for number, line in iter_lines(to_text(data, "jsonl")):
        line = line.strip()
        if not line:
            continue
        position = f"line {number}"
        # A first line that does not even start like an object means this is some other format.
        if not seen_object and not line.startswith("{"):
            raise FormatError(f"jsonl: {position} is not a JSON object (expected one object per line)")
        seen_object = True
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            yield Rejected(position, f"invalid JSON: {e.msg} (column {e.colno})")
            continue
        if not isinstance(obj, dict):
            yield Rejected(position, "not a JSON object")
            continue
        if isinstance(obj.get("paper"), dict):
            yield daily_papers.entry_to_result(obj, position)
            continue
        try:
            yield _record(obj, position)
        except _Bad as e:
            yield Rejected(position, str(e))
