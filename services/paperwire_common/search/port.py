"""SearchIndex port. Contract (tests/contract/test_search_index.py) runs against every adapter:
- upsert is idempotent: a document with a version <= the stored one is a no-op (external versioning);
- search finds English morphological variants ("running" finds "runs");
- permanent per-document failures are returned, never raised, so the caller can dead-letter them;
- keyword search, kNN, facets, filters, search_after paging and suggestions mean the same on every adapter.

Modes (keyword / semantic / hybrid) are composed above the port, in paperwire_common.search.service:
the port offers the two primitives (`search` = BM25 keyword, `knn` = vector neighbours).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

FACET_FIELDS = ("topics", "year", "has_code", "source")


@dataclass(frozen=True)
class Filters:
    topic: str | None = None
    has_code: bool | None = None
    source: str | None = None
    date_from: str | None = None  # inclusive, YYYY-MM-DD (on published_at)
    date_to: str | None = None  # inclusive, YYYY-MM-DD
    # On ingested_at (when the paper's current version arrived), epoch seconds: from <= ingested_at < before.
    arrived_from: float | None = None
    arrived_before: float | None = None

    @property
    def empty(self) -> bool:
        return not any(
            (
                self.topic,
                self.has_code is not None,
                self.source,
                self.date_from,
                self.date_to,
                self.arrived_from is not None,
                self.arrived_before is not None,
            )
        )


@dataclass(frozen=True)
class SearchRequest:
    """A keyword (BM25) search at the port: parsed with search.query, title boosted, typo-tolerant."""

    q: str = ""
    size: int = 10
    filters: Filters = Filters()
    fields: tuple[str, ...] | None = None
    # Sort values of the last hit of the previous page (SearchHit.sort): the adapter's own search_after.
    search_after: tuple[Any, ...] | None = None
    facets: bool = False
    highlight: bool = True
    # False: the caller ignores the total, so the adapter may stop counting at the page (SearchResponse.total is
    # then only a lower bound). Counting every match of a common word costs Elasticsearch as much as the search.
    count: bool = True
    # "relevance": by score, or newest publication first for an empty query; "arrival": newest ingested_at
    # first (then id), with or without a query (feeds of new papers, the daily list).
    order: Literal["relevance", "arrival"] = "relevance"


@dataclass
class SearchHit:
    id: str
    score: float
    doc: dict[str, Any]
    highlights: dict[str, list[str]] = field(default_factory=dict)
    sort: tuple[Any, ...] | None = None  # pass back as SearchRequest.search_after for the next page


@dataclass
class SearchResponse:
    total: int
    hits: list[SearchHit]
    # facet -> [(value, count)], most frequent first; only when SearchRequest.facets
    facets: dict[str, list[tuple[Any, int]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Suggestion:
    text: str
    kind: Literal["title", "topic", "method"]
    id: str | None = None  # the paper, for a title


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

    async def get(self, paper_id: str) -> dict[str, Any] | None:
        """The stored document without its embedding, or None."""
        ...

    async def get_many(
        self, paper_ids: Sequence[str], fields: tuple[str, ...] | None = None
    ) -> dict[str, dict[str, Any]]:
        """paper_id -> the document as search returns it (`fields` or the defaults, id always) for those that
        exist."""
        ...

    async def get_embeddings(self, paper_ids: Sequence[str]) -> dict[str, list[float]]:
        """paper_id -> embedding for those that exist and have one."""
        ...

    async def get_versions(self, paper_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        """paper_id -> (version, content_hash) for those that exist."""
        ...

    async def search(self, req: SearchRequest) -> SearchResponse: ...

    async def knn(
        self,
        vector: Sequence[float],
        k: int,
        filters: Filters = Filters(),
        fields: tuple[str, ...] | None = None,
        exclude_ids: Sequence[str] = (),
    ) -> list[SearchHit]:
        """The k nearest documents by cosine similarity (score = cosine), filters applied before ranking."""
        ...

    async def more_like_this(self, paper_id: str, size: int, filters: Filters = Filters()) -> list[SearchHit]:
        """Text neighbours of a paper (title + abstract terms), the paper itself excluded."""
        ...

    async def suggest(self, prefix: str, size: int) -> list[Suggestion]:
        """Completions of a prefix over titles, topics and methods."""
        ...

    async def count(self) -> int: ...

    async def refresh(self) -> None: ...

    async def snapshot(self) -> dict[str, int]:
        """Every document id with its version (for replay/crash equality checks)."""
        ...
