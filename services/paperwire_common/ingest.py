"""What a caller of the ingestor sees (the gateway's POST /v1/papers): the format names, the summary and the
error for input that is unreadable as a whole. paperwire_ingestor implements it; the runner passes the
ingestor's `ingest_bytes` to the gateway, which imports no other service."""

from __future__ import annotations

from typing import Protocol

FORMATS: tuple[str, ...] = ("text", "jsonl", "arxiv-atom", "oai-pmh", "daily-papers")


class IngestFormatError(ValueError):
    """The whole input is unreadable in the requested format."""


class IngestSummary(Protocol):
    format: str  # the format read
    read: int
    new: int
    updated: int
    unchanged: int
    rejected: int
    rejections: list[tuple[str, str]]  # (position, reason), in input order
