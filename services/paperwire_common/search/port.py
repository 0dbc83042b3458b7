"""SearchIndex port. Contract (tests/contract/test_search_index.py) runs against every adapter:
- upsert is idempotent: a document with a version <= the stored one is a no-op (external versioning);
- search finds English morphological variants ("running" finds "runs");
- permanent per-document failures are returned, never raised, so the caller can dead-letter them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class SearchRequest:
    q: str = ""
    size: int = 10
    fields: tuple[str, ...] | None = None
    has_code: bool | None = None
    topic: str | None = None


@dataclass
class SearchHit:
    id: str
    score: float
    doc: dict[str, Any]
    highlights: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class SearchResponse:
    total: int
    hits: list[SearchHit]


@dataclass(frozen=True)
class IndexFailure:
    paper_id: str
    reason: str


class SearchIndex(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ready(self) -> bool: ...

    async def ensure_index(self) -> None: ...

    async def upsert(self, docs: Sequence[dict[str, Any]]) -> list[IndexFailure]: ...

    async def get(self, paper_id: str) -> dict[str, Any] | None: ...

    async def get_versions(self, paper_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        """paper_id -> (version, content_hash) for those that exist."""
        ...

    async def search(self, req: SearchRequest) -> SearchResponse: ...

    async def count(self) -> int: ...

    async def refresh(self) -> None: ...

    async def snapshot(self) -> dict[str, int]:
        """Every document id with its version (for replay/crash equality checks)."""
        ...
