"""arXiv OAI-PMH ``ListRecords`` answers, metadataPrefix ``arXiv`` or ``arXivRaw`` (mixed is fine).

* ``arXiv``: ``id``, ``created`` -> published_at, ``updated`` -> updated_at, ``authors/author``
  (forenames + keyname + suffix), ``title``, ``categories`` (space separated), ``abstract``, ``doi``.
  This format carries no version number, so arxiv_version is None.
* ``arXivRaw``: ``version[@version="vN"]/date`` (RFC 2822): the highest N gives arxiv_version and
  updated_at, the lowest published_at; ``authors`` is one "A, B and C" string.

Deleted records (``<header status="deleted">``) are skipped, not rejected. ``<error code="noRecordsMatch">``
is an empty answer; any other OAI error raises FormatError. Positions are ``"record N"`` (1-based,
deleted ones counted). URLs in ``comments``/``abstract`` (code repositories) go to links.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

from paperwire_ingestor.parsers._common import (
    add_links,
    arxiv_id_from,
    collapse,
    detex_name,
    doi_from,
    iso_datetime,
    split_author_string,
    split_categories,
    urls_in,
)
from paperwire_ingestor.parsers._xml import XmlBroken, iter_events, local, parse_document, text_of
from paperwire_ingestor.records import FormatError, ParseResult, Rejected, SourceRecord

OAI = "{http://www.openarchives.org/OAI/2.0/}"
ARXIV = "{http://arxiv.org/OAI/arXiv/}"
ARXIV_RAW = "{http://arxiv.org/OAI/arXivRaw/}"
ROOT = f"{OAI}OAI-PMH"
_OAI_ID_PREFIX = "oai:arXiv.org:"
ABS_URL = "https://arxiv.org/abs/{}"


class _NoRecords(Exception):
    pass


def _check_error(elem: ET.Element) -> None:
    code = elem.get("code", "")
    if code == "noRecordsMatch":
        raise _NoRecords
    raise FormatError(f"oai-pmh: the repository answered with error {code!r}: {collapse(elem.text)}")


def _arxiv_authors(meta: ET.Element) -> list[str]:
    names: list[str] = []
    for author in meta.iterfind(f"{ARXIV}authors/{ARXIV}author"):
        parts = [text_of(author, f"{ARXIV}{p}") for p in ("forenames", "keyname", "suffix")]
        name = collapse(" ".join(p for p in parts if p))
        if name:
            names.append(detex_name(name))
    return names


def _raw_versions(meta: ET.Element) -> list[tuple[int, str | None]]:
    """(number, ISO date) per <version>, sorted; document order is not trusted."""
    versions: list[tuple[int, str | None]] = []
    for elem in meta.iterfind(f"{ARXIV_RAW}version"):
        label = (elem.get("version") or "").strip().lower().removeprefix("v")
        if label.isdigit():
            versions.append((int(label), iso_datetime(text_of(elem, f"{ARXIV_RAW}date"))))
    return sorted(versions)


def _from_metadata(meta: ET.Element, header_id: str | None, position: str) -> ParseResult:
    ns = ARXIV if meta.tag == f"{ARXIV}arXiv" else ARXIV_RAW
    title = collapse(meta.findtext(f"{ns}title"))
    if not title:
        return Rejected(position, "missing title")
    abstract = collapse(meta.findtext(f"{ns}abstract"))
    parsed = arxiv_id_from(text_of(meta, f"{ns}id") or header_id)
    record = SourceRecord(
        title=title,
        abstract=abstract,
        arxiv_id=parsed[0] if parsed else None,
        doi=doi_from(text_of(meta, f"{ns}doi")),
        categories=split_categories(meta.findtext(f"{ns}categories")),
        source_url=ABS_URL.format(parsed[0]) if parsed else None,
        position=position,
    )
    if ns == ARXIV:
        record.authors = _arxiv_authors(meta)
        record.published_at = iso_datetime(text_of(meta, f"{ARXIV}created"))
        record.updated_at = iso_datetime(text_of(meta, f"{ARXIV}updated"))
    else:
        authors = split_author_string(meta.findtext(f"{ARXIV_RAW}authors") or "")
        record.authors = [detex_name(a) for a in authors]
        versions = _raw_versions(meta)
        if versions:
            record.published_at = versions[0][1]
            record.arxiv_version, record.updated_at = versions[-1]
    add_links(record, *urls_in(meta.findtext(f"{ns}comments"), abstract))
    return record


def _record(elem: ET.Element, position: str) -> ParseResult | None:
    header = elem.find(f"{OAI}header")
    if header is not None and header.get("status") == "deleted":
        return None
    header_id = text_of(header, f"{OAI}identifier")
    if header_id and header_id.startswith(_OAI_ID_PREFIX):
        header_id = header_id[len(_OAI_ID_PREFIX) :]
    metadata = elem.find(f"{OAI}metadata")
    meta = metadata[0] if metadata is not None and len(metadata) else None
    if meta is None:
        return Rejected(position, "record without metadata")
    if meta.tag not in (f"{ARXIV}arXiv", f"{ARXIV_RAW}arXivRaw"):
        return Rejected(position, f"unsupported metadata format <{local(meta.tag)}> (want arXiv or arXivRaw)")
    return _from_metadata(meta, header_id, position)


def parse(data: bytes | str) -> Iterator[ParseResult]:
    index = 0
    try:
        for event, elem in iter_events(data, "oai-pmh", ROOT):
            if event != "end":
                continue
            if elem.tag == f"{OAI}error":
                _check_error(elem)
            elif elem.tag == f"{OAI}record":
                index += 1
                result = _record(elem, f"record {index}")
                if result is not None:
                    yield result
                elem.clear()
    except _NoRecords:
        return
    except XmlBroken as e:
        yield Rejected(e.position, e.reason)


def resumption_token(data: bytes | str) -> str | None:
    """The token for the next page; None when the list is complete (empty or absent token element).

    Raises FormatError for OAI errors other than noRecordsMatch (e.g. badResumptionToken) and bad XML.
    """
    root = parse_document(data, "oai-pmh", ROOT)
    error = root.find(f"{OAI}error")
    if error is not None:
        try:
            _check_error(error)
        except _NoRecords:
            return None
    token = root.find(f"{OAI}ListRecords/{OAI}resumptionToken")
    return ((token.text or "").strip() or None) if token is not None else None
