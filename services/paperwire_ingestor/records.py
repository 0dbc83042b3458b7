"""What every source parser yields: a SourceRecord per paper, or a Rejected with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field

from paperwire_common.ingest import IngestFormatError


@dataclass
class SourceRecord:
    """One paper as a parser read it. Title and abstract are whitespace-collapsed (parsers._common.collapse):
    the content hash that decides new versions relies on it."""

    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    arxiv_id: str | None = None  # without version, e.g. "2301.01234"
    arxiv_version: int | None = None
    doi: str | None = None
    categories: list[str] = field(default_factory=list)
    published_at: str | None = None  # ISO-8601
    updated_at: str | None = None
    source_url: str | None = None
    links: list[str] = field(default_factory=list)
    upvotes: int | None = None
    position: str = ""  # where in the input it came from ("line 12", "entry 3"), for error reports


@dataclass
class Rejected:
    position: str
    reason: str


ParseResult = SourceRecord | Rejected


class FormatError(IngestFormatError):
    """The whole input is unreadable in the requested format (non-zero exit with this message)."""
