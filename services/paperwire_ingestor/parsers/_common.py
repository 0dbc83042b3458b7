"""Helpers shared by the source parsers: decoding, whitespace, ids, dates, links."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from paperwire_common.ids import normalize_doi, parse_arxiv_id
from paperwire_ingestor.records import FormatError, SourceRecord

# Only bare ids ("2301.01234v2", "arXiv:hep-th/9901001") or arXiv / HF-papers URLs count as arXiv ids:
# parse_arxiv_id searches anywhere, so "example.com/blog/1234567" would otherwise look like one.
_BARE_ARXIV = re.compile(r"(?i)^(?:arxiv:)?\s*(?:\d{4}\.\d{4,5}|[a-z\-]+(?:\.[a-z]{2})?/\d{7})(?:v\d+)?$")
_ARXIV_HOSTS = ("arxiv.org/", "huggingface.co/papers/")
_URL = re.compile(r"https?://[^\s<>\"'()\[\]{}]+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?'\""


def to_text(data: bytes | str, fmt: str) -> str:
    """Decode input as UTF-8 (BOM tolerated); undecodable or NUL-laden input is not any text format."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise FormatError(f"{fmt}: input is not UTF-8 text (byte {e.start})") from e
    else:
        text = data.removeprefix("\ufeff")
    if "\x00" in text:
        raise FormatError(f"{fmt}: input contains NUL bytes (binary data?)")
    return text


def iter_lines(text: str) -> Iterator[tuple[int, str]]:
    """(1-based number, line) split on "\\n" only: str.splitlines() would also split on U+2028 etc.,
    which JSON strings may legally contain raw. Lazy, so big inputs are not copied into a list."""
    start = 0
    number = 0
    while start <= len(text):
        end = text.find("\n", start)
        if end < 0:
            end = len(text)
        number += 1
        yield number, text[start:end].rstrip("\r")
        start = end + 1


def to_bytes(data: bytes | str) -> bytes:
    """XML goes to the parser as bytes; a str is re-encoded, so its declared encoding must say UTF-8."""
    if isinstance(data, bytes):
        return data
    return re.sub(r"^(\s*<\?xml[^>]*?encoding=)([\"'])[^\"']*\2", r"\1\2utf-8\2", data, count=1).encode()


def collapse(text: str | None) -> str:
    """arXiv titles/abstracts are hard-wrapped and indented; one space between words is what we keep."""
    return " ".join(text.split()) if text else ""


def arxiv_id_from(value: object) -> tuple[str, int | None] | None:
    """(id, version) from a bare id or an arXiv/HF-papers URL; None for anything else."""
    if not isinstance(value, str):
        return None
    v = value.strip()
    if _BARE_ARXIV.match(v) or any(h in v.lower() for h in _ARXIV_HOSTS):
        return parse_arxiv_id(v)
    return None


def doi_from(value: object) -> str | None:
    return normalize_doi(value) if isinstance(value, str) else None


def iso_datetime(value: object) -> str | None:
    """ISO-8601 (date or datetime) or RFC 2822 ("Mon, 2 Apr 2007 19:18:42 GMT") -> UTC ISO string.

    Naive values are taken as UTC; a bare date becomes midnight UTC, so every parser emits one shape.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    raw = value.strip()
    dt: datetime | None
    try:
        dt = datetime.fromisoformat(raw)
    except ValueError:
        try:
            dt = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat()


def urls_in(*texts: str | None) -> list[str]:
    """http(s) links mentioned in free text (code repos in abstracts/comments), trailing punctuation cut."""
    found: list[str] = []
    for text in texts:
        for m in _URL.finditer(text or ""):
            url = m.group(0).rstrip(_URL_TRAILING)
            if url not in found:
                found.append(url)
    return found


def add_links(record: SourceRecord, *links: str | None) -> None:
    for link in links:
        if link and link not in record.links:
            record.links.append(link)


def split_categories(value: str | None) -> list[str]:
    return [c for c in re.split(r"[\s,]+", value or "") if c]


def split_author_string(authors: str) -> list[str]:
    """'A. Smith (MIT), B. Jones and C. Wu' -> ['A. Smith', 'B. Jones', 'C. Wu'].

    Commas inside parentheses belong to affiliations, which are dropped.
    """
    names: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in authors.replace("\n", " "):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif depth == 0 and ch == ",":
            names.append("".join(current))
            current = []
        elif depth == 0:
            current.append(ch)
    names.append("".join(current))
    out: list[str] = []
    for chunk in names:
        chunk = re.sub(r"^and\s+", "", chunk.strip())  # Oxford comma: "A, B, and C"
        for name in re.split(r"\s+and\s+|\s*&\s*", chunk):
            name = collapse(name)
            if name:
                out.append(name)
    return out


# arXiv metadata keeps names in TeX ("Bal\'azs", "M{\"u}ller"); undo the common accents so the same
# author reads the same in every source. Math in titles/abstracts is left alone.
_TEX_ACCENTS = {
    "'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304",
    ".": "\u0307", "c": "\u0327", "v": "\u030c", "u": "\u0306", "H": "\u030b", "r": "\u030a", "k": "\u0328",
}  # fmt: skip
_TEX_ACCENT = re.compile(r"\{?\\(['`^\"~=.])\s*\{?([A-Za-z])\}?\}?|\{?\\([cvuHrk])\{([A-Za-z])\}\}?")


def detex_name(name: str) -> str:
    def repl(m: re.Match[str]) -> str:
        accent, letter = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        return unicodedata.normalize("NFC", letter + _TEX_ACCENTS[accent])

    return _TEX_ACCENT.sub(repl, name) if "\\" in name else name
