"""Source parsers: each ``parse(data) -> Iterator[SourceRecord | Rejected]``; ``detect`` picks one.

A malformed record yields ``Rejected(position, reason)`` and parsing goes on; input that is not the
format at all raises ``FormatError``.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterator

from paperwire_ingestor.parsers import arxiv_atom, daily_papers, jsonl, oai_pmh, text
from paperwire_ingestor.records import FormatError, ParseResult

Parser = Callable[[bytes | str], Iterator[ParseResult]]

FORMATS: dict[str, Parser] = {
    "text": text.parse,
    "jsonl": jsonl.parse,
    "arxiv-atom": arxiv_atom.parse,
    "oai-pmh": oai_pmh.parse,
    "daily-papers": daily_papers.parse,
}

_XML_ROOTS = {"feed": "arxiv-atom", "OAI-PMH": "oai-pmh"}
_MAGIC = {
    b"\x1f\x8b": "gzip",
    b"PK\x03\x04": "zip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"%PDF": "PDF",
    b"\x89PNG": "PNG",
}
_SNIFF_BYTES = 64 * 1024
# Skip the XML declaration, comments, processing instructions and a doctype to reach the root's name.
_XML_ROOT = re.compile(r"(?:\s|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)*<([A-Za-z_][\w.:-]*)", re.DOTALL)


def _sniff_text(data: bytes) -> str:
    """The decoded head of the input; FormatError for binary junk."""
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            raise FormatError(f"input is {kind} data, not a paper source (decompress/convert it first)")
    head = data[:_SNIFF_BYTES]
    if b"\x00" in head:
        raise FormatError("input is binary (contains NUL bytes)")
    try:
        # Incremental decoding so a multi-byte character cut by the sniff window is not an error.
        decoded = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=len(data) <= _SNIFF_BYTES)
    except UnicodeDecodeError as e:
        raise FormatError(f"input is not UTF-8 text (bad byte at offset {e.start})") from e
    controls = sum(1 for c in decoded if ord(c) < 32 and c not in "\t\n\r\f")
    if controls > max(2, len(decoded) // 100):
        raise FormatError("input is binary (too many control characters)")
    return decoded


def _json_object_kind(data: bytes, name: str | None) -> str:
    if name and name.lower().endswith((".jsonl", ".ndjson")):
        return "jsonl"
    whole = data.decode("utf-8-sig", errors="replace")
    try:
        doc = json.loads(whole)
    except json.JSONDecodeError:
        return "jsonl"  # "Extra data" after the first object: one object per line
    # One document-wide object: a daily-papers entry / paper object, unless it is a one-line JSONL file.
    one_line = "\n" not in whole.strip()
    if isinstance(doc, dict) and ("paper" in doc or not one_line or (name or "").lower().endswith(".json")):
        return "daily-papers"
    return "jsonl"


def detect(data: bytes, name: str | None = None) -> str:
    """Sniff the format of ``data`` (a key of FORMATS); ``name`` (a file name) only breaks ties.

    XML root ``feed`` -> arxiv-atom, ``OAI-PMH`` -> oai-pmh; a JSON array, or one JSON object with
    "paper" -> daily-papers; lines of JSON objects -> jsonl; anything else readable -> text.
    Raises FormatError for empty input, binary junk and XML/HTML of another kind.
    """
    if isinstance(data, str):
        data = data.encode()
    stripped = _sniff_text(data).lstrip()
    if not stripped:
        raise FormatError("input is empty")
    if stripped.startswith("<"):
        m = _XML_ROOT.match(stripped)
        root = m.group(1).rpartition(":")[2] if m else "?"
        if root in _XML_ROOTS:
            return _XML_ROOTS[root]
        if root.lower() == "html":
            raise FormatError("input is an HTML page, not a paper source (use the API/feed URL)")
        raise FormatError(f"unsupported XML document (root <{root}>); expected an Atom <feed> or <OAI-PMH>")
    if stripped.startswith("["):
        return "daily-papers"
    if stripped.startswith("{"):
        return _json_object_kind(data, name)
    return "text"


def parse(data: bytes | str, fmt: str | None = None, name: str | None = None) -> Iterator[ParseResult]:
    """Parse with the named format, or the detected one."""
    if fmt is None:
        fmt = detect(data.encode() if isinstance(data, str) else data, name)
    if fmt not in FORMATS:
        raise FormatError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    return FORMATS[fmt](data)


__all__ = ["FORMATS", "FormatError", "Parser", "detect", "parse"]
