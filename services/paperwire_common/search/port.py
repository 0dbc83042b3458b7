"""SearchIndex port. Contract (tests/contract/test_search_index.py) runs against every adapter:
- upsert is idempotent: a document with a version <= the stored one is a no-op (external versioning);
- search finds English morphological variants ("running" finds "runs");
- permanent per-document failures are returned, never raised, so the caller can dead-letter them;
- keyword search, kNN, facets, filters, search_after paging and suggestions mean the same on every adapter;
- a request's work is bounded: past its `budget_s` an adapter answers with what it has and says so
  (`SearchResponse.timed_out`), and it never blocks the event loop.

Modes (keyword / semantic / hybrid) are composed above the port, in paperwire_common.search.service: the port
offers the primitives (`search` = BM25 keyword search of a parsed query, `knn` = vector neighbours restricted
by the same query's constraints) and the service combines them (tests/contract/test_search_modes.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from .query import EMPTY, ParsedQuery

FACET_FIELDS = ("topics", "year", "has_code", "source")
# Totals are counted exactly up to here, then reported as a lower bound (Elasticsearch's track_total_hits).
TOTAL_EXACT_UP_TO = 10_000
TotalRelation = Literal["eq", "gte"]
# A hit whose title contains the query's title_phrase ranks above every other: adapters add this to its score
# (far above any BM25 score, small enough for float32 to keep BM25's precision) and report it as title_match.
TITLE_TIER = 10_000.0


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
    """A keyword (BM25) search at the port of a query parsed once (search.query.parse): title boosted, a title
    containing the free text as a phrase boosted most, typo-tolerant on `query.typo_words`. An empty query
    browses, newest first."""

    query: ParsedQuery = EMPTY
    size: int = 10
    filters: Filters = Filters()
    fields: tuple[str, ...] | None = None
    # Sort values of the last hit of the previous page (SearchHit.sort): the adapter's own search_after.
    search_after: tuple[Any, ...] | None = None
    facets: tuple[str, ...] = ()  # which of FACET_FIELDS to count over every match
    highlight: bool = True
    # False: the caller ignores the total, so the adapter may stop counting at the page (SearchResponse.total is
    # then only a lower bound). Counting every match of a common word costs Elasticsearch as much as the search.
    count: bool = True
    # Documents another retriever found (the vector hits of semantic and hybrid search): they match too when
    # they satisfy the query's constraints and the filters, with the score of the free words they match (0 if
    # none), so totals and facets count the union.
    also: tuple[str, ...] = ()
    only: tuple[str, ...] | None = None  # restrict to these documents (a page, a candidate set)
    budget_s: float | None = None  # answer with what was found by then (SearchResponse.timed_out)
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
    # The title contains the query's title_phrase: such hits rank first; `score` is their BM25 score alone.
    title_match: bool = False


@dataclass
class SearchResponse:
    total: int  # exact up to TOTAL_EXACT_UP_TO ("eq"), then a lower bound ("gte")
    hits: list[SearchHit]
    # facet -> [(value, count)], most frequent first; only the facets asked for
    facets: dict[str, list[tuple[Any, int]]] = field(default_factory=dict)
    total_relation: TotalRelation = "eq"
    timed_out: bool = False  # the budget ran out: total, facets and hits are what was found by then


@dataclass(frozen=True)
class Suggestion:
    text: str
    kind: Literal["title", "topic", "method"]
    id: str | None = None  # the paper, for a title


@dataclass(frozen=True)
class TopicAssignment:
    """The topics a re-clustering put a paper in (papers.topics.v1); a higher version replaces a lower one."""

    paper_id: str
    topics: tuple[str, ...]
    labels: tuple[str, ...]
    version: int


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

    async def set_topics(self, assignments: Sequence[TopicAssignment]) -> None:
        """Record each assignment unless one of the same or a higher version is recorded, and give each paper the
        topic ids and labels of its recorded assignment: at once when it is indexed, at its upsert when it is not
        yet (upsert carries the recorded assignment into every new version of a document). Idempotent and
        order-safe: replaying the assignments in any order gives the same topics."""
        ...

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
        query: ParsedQuery | None = None,
        min_score: float | None = None,
        budget_s: float | None = None,
        only: Sequence[str] | None = None,
    ) -> list[SearchHit]:
        """The k nearest documents by cosine similarity (score = cosine, best first, ties by id) among those that
        satisfy the filters and `query`'s constraints (its free words do not restrict), with a cosine of at least
        `min_score`, and are in `only` when it is given (re-scoring a candidate set). Exact on the embedded index;
        on Elasticsearch the HNSW search is exact when the filters leave fewer documents than it visits (as with
        `only`)."""
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
