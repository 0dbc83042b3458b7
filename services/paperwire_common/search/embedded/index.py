"""SearchIndex with no server: SQLite FTS5 (Porter stemming, BM25) for text, numpy for vectors.

Same contract as the Elasticsearch adapter (tests/contract): external versions, English stemming, per-document
failures returned, the same query language, filters, facets, paging, kNN and suggestions. Single-process; SQLite
calls are short and run on the event loop. The parts: `store` (connection, layout, reads), `writes`, `keyword`
(FTS5 search, facets, highlights), `vocabulary` (stems, typos), `vectors` (exact cosine kNN), `neighbours`
(more-like-this) and `suggest`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..port import Filters, IndexFailure, SearchHit, SearchRequest, SearchResponse, Suggestion
from .keyword import KeywordSearch, more_like_this
from .store import Store
from .suggest import suggest
from .vectors import Vectors
from .vocabulary import Vocabulary
from .writes import Writer

NO_FILTERS = Filters()


class EmbeddedIndex:
    def __init__(self, path: str | None = None) -> None:
        self.store = Store(path)
        self.vocabulary = Vocabulary(self.store)
        self.writer = Writer(self.store, self.vocabulary)
        self.keyword = KeywordSearch(self.store, self.vocabulary)
        self.vectors = Vectors(self.store)
        old = self.store.migrate()
        if old:
            self.writer.write_batch(old)
        self.store.mark_current()
        self.vectors.load()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.store.close()

    async def ready(self) -> bool:
        return True

    async def ensure_index(self) -> None:
        return None

    async def upsert(self, docs: Sequence[dict[str, Any]]) -> list[IndexFailure]:
        failures, written = self.writer.write_batch(docs)
        for rid, vec in written:  # only once committed, so the matrix never holds a rolled-back vector
            self.vectors.set(rid, vec)
        if written:
            self.keyword.written()
        return failures

    async def get(self, paper_id: str) -> dict[str, Any] | None:
        return self.store.get(paper_id)

    async def get_many(
        self, paper_ids: Sequence[str], fields: tuple[str, ...] | None = None
    ) -> dict[str, dict[str, Any]]:
        return self.store.get_many(paper_ids, fields)

    async def get_embeddings(self, paper_ids: Sequence[str]) -> dict[str, list[float]]:
        return self.store.get_embeddings(paper_ids)

    async def get_versions(self, paper_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        return self.store.get_versions(paper_ids)

    async def refresh(self) -> None:
        return None

    async def count(self) -> int:
        return self.store.count()

    async def snapshot(self) -> dict[str, int]:
        return self.store.snapshot()

    async def search(self, req: SearchRequest) -> SearchResponse:
        return self.keyword.search(req)

    async def knn(
        self,
        vector: Sequence[float],
        k: int,
        filters: Filters = NO_FILTERS,
        fields: tuple[str, ...] | None = None,
        exclude_ids: Sequence[str] = (),
    ) -> list[SearchHit]:
        return self.vectors.knn(vector, k, filters, fields, exclude_ids)

    async def more_like_this(self, paper_id: str, size: int, filters: Filters = NO_FILTERS) -> list[SearchHit]:
        return more_like_this(self.store, self.vocabulary, paper_id, size, filters)

    async def suggest(self, prefix: str, size: int) -> list[Suggestion]:
        return suggest(self.store, prefix, size)
