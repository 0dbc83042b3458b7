"""Canonical paper ids: arXiv id (version kept apart) -> DOI -> normalised-title hash."""

from __future__ import annotations

import hashlib
import re
import unicodedata

# New-style (2301.01234) and old-style (hep-th/9901001) arXiv ids, optional version suffix.
_ARXIV_RE = re.compile(
    r"(?:arxiv:|arxiv\.org/(?:abs|pdf)/)?\s*"
    r"(?P<id>\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?P<v>v\d+)?",
    re.IGNORECASE,
)
_DOI_RE = re.compile(r"(10\.\d{4,9}/[^\s\"<>]+)", re.IGNORECASE)


def parse_arxiv_id(raw: str) -> tuple[str, int | None] | None:
    """'http://arxiv.org/abs/2301.01234v2' -> ('2301.01234', 2); None if not an arXiv id."""
    m = _ARXIV_RE.search(raw.strip())
    if not m:
        return None
    version = int(m.group("v")[1:]) if m.group("v") else None
    return m.group("id").lower() if "/" in m.group("id") else m.group("id"), version


def normalize_doi(raw: str) -> str | None:
    m = _DOI_RE.search(raw)
    return m.group(1).rstrip(".").lower() if m else None


def normalize_title(title: str) -> str:
    """Case-, accent-, punctuation- and whitespace-insensitive form of a title."""
    if title.isascii():  # most titles: nothing to decompose (and the per-character pass is the cost)
        t = title.lower()
    else:
        t = unicodedata.normalize("NFKD", title)
        t = "".join(c for c in t if not unicodedata.combining(c)).lower()
    t = re.sub(r"[^a-z0-9]+", " ", t)
    return " ".join(t.split())


def title_hash(title: str) -> str:
    return hashlib.sha256(normalize_title(title).encode()).hexdigest()[:16]


def canonical_id(*, arxiv_id: str | None, doi: str | None, title: str) -> str:
    """The id a paper is known by everywhere (Kafka key, index _id, trend member)."""
    if arxiv_id:
        return f"arxiv:{arxiv_id}"
    if doi:
        return f"doi:{doi}"
    return f"title:{title_hash(title)}"


def content_hash(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode())
        h.update(b"\x00")
    return h.hexdigest()[:24]


def event_id(*parts: str) -> str:
    """Deterministic event id: the same logical event always gets the same id (idempotency key)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
