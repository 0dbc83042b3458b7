"""arXiv API answers (export.arxiv.org/api/query): an Atom ``<feed>`` of ``<entry>`` elements.

Per entry: ``id`` (``http://arxiv.org/abs/2301.01234v2`` -> id + version), ``title`` and ``summary``
(hard-wrapped: whitespace collapsed), ``author/name``, ``published``, ``updated``, ``link``
(rel=alternate -> source_url; others, e.g. the PDF, -> links), ``arxiv:primary_category`` first then
``category/@term``, ``arxiv:doi`` (or the ``title="doi"`` link), URLs in ``arxiv:comment``/summary -> links.

The API reports bad queries as a feed with a single entry whose id is ``http://arxiv.org/api/errors#...``:
that raises FormatError with the API's message. Positions are ``"entry N"`` (1-based); a document
truncated mid-way yields the entries before the break, then ``Rejected("line N", "malformed XML: ...")``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

from paperwire_ingestor.parsers._common import (
    add_links,
    arxiv_id_from,
    collapse,
    doi_from,
    iso_datetime,
    urls_in,
)
from paperwire_ingestor.parsers._xml import XmlBroken, iter_events, local, parse_document, text_of
from paperwire_ingestor.records import FormatError, ParseResult, Rejected, SourceRecord

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
FEED = f"{ATOM}feed"
ENTRY = f"{ATOM}entry"
_ERROR_ID = "arxiv.org/api/errors"


def _raise_if_error(entry: ET.Element) -> None:
    entry_id = text_of(entry, f"{ATOM}id") or ""
    if _ERROR_ID in entry_id:
        message = collapse(entry.findtext(f"{ATOM}summary")) or entry_id
        raise FormatError(f"arxiv-atom: the arXiv API answered with an error: {message}")


def _categories(entry: ET.Element) -> list[str]:
    terms: list[str] = []
    primary = entry.find(f"{ARXIV}primary_category")
    candidates = [primary] if primary is not None else []
    for elem in [*candidates, *entry.findall(f"{ATOM}category")]:
        term = (elem.get("term") or "").strip()
        if term and term not in terms:
            terms.append(term)
    return terms


def _entry(entry: ET.Element, position: str) -> ParseResult:
    _raise_if_error(entry)
    title = collapse(entry.findtext(f"{ATOM}title"))
    if not title:
        return Rejected(position, "missing title")
    abstract = collapse(entry.findtext(f"{ATOM}summary"))
    parsed = arxiv_id_from(text_of(entry, f"{ATOM}id"))
    record = SourceRecord(
        title=title,
        abstract=abstract,
        authors=[n for a in entry.findall(f"{ATOM}author") if (n := collapse(a.findtext(f"{ATOM}name")))],
        arxiv_id=parsed[0] if parsed else None,
        arxiv_version=parsed[1] if parsed else None,
        doi=doi_from(text_of(entry, f"{ARXIV}doi")),
        categories=_categories(entry),
        published_at=iso_datetime(text_of(entry, f"{ATOM}published")),
        updated_at=iso_datetime(text_of(entry, f"{ATOM}updated")),
        position=position,
    )
    for link in entry.findall(f"{ATOM}link"):
        href = (link.get("href") or "").strip()
        if link.get("rel", "alternate") == "alternate" and record.source_url is None:
            record.source_url = href or None
        elif link.get("title") == "doi":
            record.doi = record.doi or doi_from(href)
        else:
            add_links(record, href)
    add_links(record, *urls_in(entry.findtext(f"{ARXIV}comment"), abstract))
    return record


def parse(data: bytes | str) -> Iterator[ParseResult]:
    index = 0
    try:
        for event, elem in iter_events(data, "arxiv-atom", FEED):
            if event == "end" and elem.tag == ENTRY:
                index += 1
                yield _entry(elem, f"entry {index}")
                elem.clear()  # streaming: keep memory flat on large pages
    except XmlBroken as e:
        yield Rejected(e.position, e.reason)


def feed_info(data: bytes | str) -> tuple[int, int, int]:
    """(totalResults, startIndex, itemsPerPage) from the feed's OpenSearch elements, for paging.

    Matched by local name: the OpenSearch namespace URI has varied between API versions.
    Raises FormatError for the API's error feed or a feed without totalResults.
    """
    root = parse_document(data, "arxiv-atom", FEED)
    for entry in root.iter(ENTRY):
        _raise_if_error(entry)
    values: dict[str, int] = {}
    for child in root:
        name = local(child.tag)
        if name in ("totalResults", "startIndex", "itemsPerPage"):
            try:
                values[name] = int((child.text or "").strip())
            except ValueError as e:
                raise FormatError(f"arxiv-atom: {name} is not an integer: {child.text!r}") from e
    if "totalResults" not in values:
        raise FormatError("arxiv-atom: feed has no opensearch:totalResults (not an arXiv API answer?)")
    return values["totalResults"], values.get("startIndex", 0), values.get("itemsPerPage", 0)
