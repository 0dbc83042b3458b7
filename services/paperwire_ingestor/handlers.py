"""Pure ingest logic: a SourceRecord becomes a PaperRaw with its canonical id and next version."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import ValidationError

from paperwire_common.events import Author, PaperRaw
from paperwire_common.ids import canonical_id, content_hash, normalize_doi

from .records import SourceRecord

Outcome = Literal["new", "updated", "unchanged", "rejected"]


@dataclass
class Summary:
    format: str = ""
    read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)  # "position: reason", for the CLI
    rejections: list[tuple[str, str]] = field(default_factory=list)  # (position, reason)

    def add(self, outcome: Outcome, reason: str | None = None, position: str = "") -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        if reason:
            self.reasons.append(f"{position}: {reason}" if position else reason)
            self.rejections.append((position, reason))

    def line(self) -> str:
        return (
            f"read {self.read}, new {self.new}, updated {self.updated}, unchanged {self.unchanged}, "
            f"rejected {self.rejected}"
        )


def paper_key(rec: SourceRecord) -> str:
    doi = normalize_doi(rec.doi) if rec.doi else None
    return canonical_id(arxiv_id=rec.arxiv_id, doi=doi, title=rec.title)


def record_hash(rec: SourceRecord) -> str:
    """What makes a new version: the text and the bibliographic facts, not source-side counters.

    Title and abstract arrive whitespace-collapsed (every parser applies `collapse`; SourceRecord says so), so a
    re-wrapped abstract hashes alike without a second pass over the text here."""
    return content_hash(
        rec.title,
        rec.abstract,
        "|".join(rec.authors),
        str(rec.arxiv_version or ""),
        rec.doi or "",
        "|".join(rec.categories),
        rec.published_at or "",
    )


def to_raw(
    rec: SourceRecord, *, existing: tuple[int, str] | None, source: str, now: float, key: str | None = None
) -> tuple[Outcome, PaperRaw | str | None]:
    """('new'|'updated', PaperRaw), ('unchanged', None) or ('rejected', reason); `key`: paper_key(rec), if known."""
    pid = key or paper_key(rec)
    h = record_hash(rec)
    if existing is not None and existing[1] == h:
        return "unchanged", None
    version = 1 if existing is None else existing[0] + 1
    try:
        paper = PaperRaw(
            paper_id=pid,
            version=version,
            content_hash=h,
            title=rec.title,
            abstract=rec.abstract,
            authors=[Author(name=a) for a in rec.authors if a.strip()],
            arxiv_id=rec.arxiv_id,
            arxiv_version=rec.arxiv_version,
            doi=normalize_doi(rec.doi) if rec.doi else None,
            categories=rec.categories,
            published_at=rec.published_at,
            updated_at=rec.updated_at,
            source=source,
            source_url=rec.source_url,
            links=rec.links,
            upvotes=rec.upvotes,
            ingested_at=now,
        )
    except ValidationError as e:
        err = e.errors()[0]
        return "rejected", f"{rec.position}: {'.'.join(map(str, err['loc']))}: {err['msg']}"
    return ("new" if existing is None else "updated"), paper
