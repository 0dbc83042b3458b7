"""Safe, streaming XML reading for the Atom and OAI-PMH parsers (defusedxml: no entity expansion)."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import defusedxml
import defusedxml.ElementTree as DET

from paperwire_ingestor.parsers._common import to_bytes
from paperwire_ingestor.records import FormatError


class XmlBroken(Exception):
    """The document became malformed (typically truncated) after its root element was recognised."""

    def __init__(self, position: str, reason: str) -> None:
        super().__init__(f"{position}: {reason}")
        self.position = position
        self.reason = reason


def local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _check_root(elem: ET.Element, fmt: str, root_tag: str) -> None:
    if elem.tag != root_tag:
        raise FormatError(f"{fmt}: root element is <{elem.tag}>, expected <{root_tag}>")


def iter_events(data: bytes | str, fmt: str, root_tag: str) -> Iterator[tuple[str, ET.Element]]:
    """("start"|"end", element) pairs, streaming, so entries can be yielded and cleared one by one.

    Bad XML before the root is known -> FormatError (not this format at all); after -> XmlBroken, so the
    caller can keep the entries already read and report the break as a Rejected.
    """
    root_seen = False
    try:
        for event, elem in DET.iterparse(io.BytesIO(to_bytes(data)), events=("start", "end")):
            if not root_seen:
                _check_root(elem, fmt, root_tag)
                root_seen = True
            yield event, elem
    except ET.ParseError as e:
        line = e.position[0]
        if not root_seen:
            raise FormatError(f"{fmt}: not well-formed XML (line {line}): {e}") from e
        raise XmlBroken(f"line {line}", f"malformed XML: {e}") from e
    except defusedxml.DefusedXmlException as e:
        raise FormatError(f"{fmt}: refused unsafe XML: {e!r}") from e


def parse_document(data: bytes | str, fmt: str, root_tag: str) -> ET.Element:
    """The whole tree, for the small paging helpers that need the document's end (resumption token)."""
    try:
        root = DET.fromstring(to_bytes(data))
    except ET.ParseError as e:
        raise FormatError(f"{fmt}: not well-formed XML (line {e.position[0]}): {e}") from e
    except defusedxml.DefusedXmlException as e:
        raise FormatError(f"{fmt}: refused unsafe XML: {e!r}") from e
    _check_root(root, fmt, root_tag)
    return root


def text_of(elem: ET.Element | None, path: str) -> str | None:
    """Stripped text of a child, None when absent or empty."""
    if elem is None:
        return None
    value = elem.findtext(path)
    return (value.strip() or None) if value is not None else None
