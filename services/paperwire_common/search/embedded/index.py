"""SearchIndex with no server: SQLite FTS5 (Porter stemming, BM25) for text, numpy for vectors.

Same contract as the Elasticsearch adapter (tests/contract): external versions, English stemming, per-document
failures returned, the same query language, filters, facets, paging, kNN and suggestions. Every SQLite and numpy
call runs on one thread of its own, never on the event loop: a slow query delays other index calls, not the
process (health checks, the API, the other services of `paperwire run all`). The parts: `store` (connection,
layout, reads), `writes`, `keyword` (FTS5 search, facets, highlights), `vocabulary` (stems, typos), `neighbours`
(exact cosine kNN, more-like-this) and `suggest`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from ..port import Filters, IndexFailure, SearchHit, SearchRequest, SearchResponse, Suggestion, TopicAssignment
from ..query import ParsedQuery
from .keyword import KeywordSearch
from .neighbours import Vectors, more_like_this
from .store import Store
from .suggest import suggest
from .vocabulary import Vocabulary
from .writes import Writer

NO_FILTERS = Filters()
P = ParamSpec("P")
T = TypeVar("T")


class EmbeddedIndex:
    def __init__(self, path: str | None = None) -> None:
        self.store = Store(path)
        self.vocabulary = Vocabulary(self.store)
        self.writer = Writer(self.store, self.vocabulary)
        self.keyword = KeywordSearch(self.store, self.vocabulary)
        self.vectors = Vectors(self.store, self.keyword)
        old = self.store.migrate()
        if old:
            self.writer.write_batch(old)
        self.store.mark_current()
        self.vectors.load()
        # One thread: the connection, its temp tables and the matrix are used by one call at a time.
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="embedded-index")

    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, functools.partial(fn, *args, **kwargs))

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self._run(self.store.close)
        self._thread.shutdown(wait=True)

    async def ready(self) -> bool:
        return True

    async def ensure_index(self) -> None:
        return None

    def _upsert(self, docs: Sequence[dict[str, Any]]) -> list[IndexFailure]:
        failures, written = self.writer.write_batch(docs)
        for rid, vec in written:  # only once committed, so the matrix never holds a rolled-back vector
            self.vectors.set(rid, vec)
        if written:
            self.keyword.written()
        return failures

    async def upsert(self, docs: Sequence[dict[str, Any]]) -> list[IndexFailure]:
        return await self._run(self._upsert, docs)

    def _set_topics(self, assignments: Sequence[TopicAssignment]) -> None:
        if self.writer.set_topics(assignments):
            self.keyword.written()

    async def set_topics(self, assignments: Sequence[TopicAssignment]) -> None:
        await self._run(self._set_topics, assignments)

    async def get(self, paper_id: str) -> dict[str, Any] | None:
        return await self._run(self.store.get, paper_id)

    async def get_many(
        self, paper_ids: Sequence[str], fields: tuple[str, ...] | None = None
    ) -> dict[str, dict[str, Any]]:
        return await self._run(self.store.get_many, paper_ids, fields)

    async def get_embeddings(self, paper_ids: Sequence[str]) -> dict[str, list[float]]:
        return await self._run(self.store.get_embeddings, paper_ids)

    async def get_versions(self, paper_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        return await self._run(self.store.get_versions, paper_ids)

    async def refresh(self) -> None:
        return None

    async def count(self) -> int:
        return await self._run(self.store.count)

    async def snapshot(self) -> dict[str, int]:
        return await self._run(self.store.snapshot)

    async def search(self, req: SearchRequest) -> SearchResponse:
        return await self._run(self.keyword.search, req)

    async def knn(
        self,
        vector: Sequence[float],
        k: int,
        filters: Filters = NO_FILTERS,
        fields: tuple[str, ...] | None = None,
        exclude_ids: Sequence[str] = (),
        query: ParsedQuery | None = None,
        min_score: float | None = None,
        budget_s: float | None = None,
        only: Sequence[str] | None = None,
    ) -> list[SearchHit]:
        # One matrix product over every vector: bounded by the corpus, so the budget needs no check here.
        return await self._run(self.vectors.knn, vector, k, filters, fields, exclude_ids, query, min_score, only)

    async def more_like_this(self, paper_id: str, size: int, filters: Filters = NO_FILTERS) -> list[SearchHit]:
        return await self._run(more_like_this, self.store, self.vocabulary, paper_id, size, filters)

    async def suggest(self, prefix: str, size: int) -> list[Suggestion]:
        return await self._run(suggest, self.store, prefix, size)
