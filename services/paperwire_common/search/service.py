"""Search modes above the SearchIndex port: keyword (BM25), semantic (kNN above a relevance floor) and hybrid
(keyword and vector results fused, see ranking.py; done here because Elasticsearch's built-in fusion is a paid
feature), plus similar papers, recommendations and suggestions. The same code serves both backends.

The query is parsed once, here, and the parsed form goes to the index: every mode applies the same query
language. Facets are counted only when asked for (they visit every match); totals are exact up to 10,000 and
then a lower bound (`total_relation`); every request has a time budget, past which it answers with what it has
(`timed_out`). Cursors: see cursors.py.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from .cursors import CursorError, Cursors
from .port import FACET_FIELDS, Filters, SearchHit, SearchIndex, SearchRequest, Suggestion
from .query import ParsedQuery, QuerySyntaxError, parse
from .ranking import Fusion, Mode, Ranked, Ranker, SearchPage, facet_dicts, item

MODES: tuple[Mode, ...] = ("keyword", "semantic", "hybrid")
__all__ = ["MODES", "CursorError", "Fusion", "Mode", "NotFound", "SearchPage", "SearchService", "SemanticUnavailable"]


class QueryEncoder(Protocol):
    model_id: str

    def encode(self, texts: Sequence[str]) -> Any: ...


class SemanticUnavailable(Exception):
    """Semantic search needs the embedding model, which is not loaded (HTTP 503 with this reason)."""


class NotFound(KeyError):
    pass


def parse_facets(value: str | None) -> tuple[str, ...]:
    """`facets=` of a request: comma-separated names of FACET_FIELDS, or `all`; none when absent."""
    if not value:
        return ()
    names = [n.strip() for n in value.split(",") if n.strip()]
    if names == ["all"]:
        return FACET_FIELDS
    unknown = sorted(set(names) - set(FACET_FIELDS))
    if unknown:
        raise QuerySyntaxError(f"unknown facet {unknown[0]!r}; facets are {', '.join(FACET_FIELDS)} or all")
    return tuple(dict.fromkeys(names))


class SearchService:
    def __init__(
        self,
        index: SearchIndex,
        encoder: QueryEncoder | None = None,
        *,
        cursor_secret: bytes,
        fusion: Fusion | None = None,
        encoder_unavailable_reason: str = "the embedding model is not loaded",
    ) -> None:
        self.index, self.encoder = index, encoder
        self.cursors = Cursors(cursor_secret)
        self.fusion = fusion = fusion or Fusion()
        self.ranker = Ranker(index, fusion)
        self.unavailable_reason = encoder_unavailable_reason
        self._qcache: OrderedDict[str, list[float]] = OrderedDict()

    # -- query vectors
    async def embed_query(self, text: str) -> list[float]:
        if self.encoder is None:
            raise SemanticUnavailable(self.unavailable_reason)
        hit = self._qcache.get(text)
        if hit is not None:
            self._qcache.move_to_end(text)
            return hit
        enc = self.encoder
        # onnxruntime releases the GIL: encoding off the event loop keeps other requests moving.
        vec = (await asyncio.to_thread(enc.encode, [text]))[0]
        out = [float(x) for x in vec]
        self._qcache[text] = out
        if len(self._qcache) > 2048:
            self._qcache.popitem(last=False)
        return out

    # -- search
    async def search(
        self,
        q: str,
        *,
        mode: Mode = "hybrid",
        size: int = 10,
        filters: Filters = Filters(),
        cursor: str | None = None,
        fields: tuple[str, ...] | None = None,
        explain: bool = False,
        facets: tuple[str, ...] = (),
    ) -> SearchPage:
        pq = parse(q)  # raises QuerySyntaxError (400) before anything else
        fp = self.cursors.fingerprint(q, mode, filters, size)
        state = self.cursors.open(cursor, fp) if cursor else {}
        degraded = None
        if mode != "keyword" and not pq.text.strip():
            degraded, mode = "no free text to embed: served as keyword search", "keyword"
        elif mode == "hybrid" and self.encoder is None:
            degraded, mode = (
                f"semantic part unavailable ({self.unavailable_reason}): served as keyword search",
                "keyword",
            )
        if mode == "keyword":
            page = await self._keyword(pq, size, filters, fields, state, fp, explain, facets)
        else:
            page = await self._ranked(pq, mode, size, filters, fields, state, fp, explain, facets)
        page.degraded = degraded
        return page

    async def _keyword(
        self,
        pq: ParsedQuery,
        size: int,
        filters: Filters,
        fields: tuple[str, ...] | None,
        state: dict[str, Any],
        fp: str,
        explain: bool,
        facets: tuple[str, ...],
    ) -> SearchPage:
        after = tuple(state["a"]) if state.get("a") is not None else None
        req = SearchRequest(pq, size, filters, fields, after, facets, budget_s=self.fusion.budget_s)
        res = await self.index.search(req)
        seen = int(state.get("n", 0))
        items = []
        for rank, h in enumerate(res.hits, start=seen + 1):
            it = item(h)
            if explain:
                it["explain"] = _explain(rank, h.score, None, None, h.score, h.title_match)
            items.append(it)
        seen += len(res.hits)
        nxt = None
        if len(res.hits) == size and (seen < res.total or res.total_relation == "gte") and res.hits[-1].sort:
            nxt = self.cursors.issue(fp, {"a": list(res.hits[-1].sort), "n": seen})
        return SearchPage(
            res.total,
            items,
            facet_dicts(res),
            nxt,
            "keyword",
            total_relation=res.total_relation,
            timed_out=res.timed_out,
        )

    async def _ranked(
        self,
        pq: ParsedQuery,
        mode: Mode,
        size: int,
        filters: Filters,
        fields: tuple[str, ...] | None,
        state: dict[str, Any],
        fp: str,
        explain: bool,
        facets: tuple[str, ...],
    ) -> SearchPage:
        offset = max(0, int(state.get("o", 0)))
        vec = await self.embed_query(pq.text)
        if mode == "hybrid":
            r: Ranked = await self.ranker.hybrid(pq, vec, filters, facets, offset + size)
        else:
            r = await self.ranker.semantic(pq, vec, filters, facets)
        page = r.order[offset : offset + size]
        hits: dict[str, SearchHit] = {}
        if page:  # the page's documents and highlights, in one read
            req = SearchRequest(pq, len(page), filters, fields, count=False, also=tuple(page), only=tuple(page))
            hits = {h.id: h for h in (await self.index.search(req)).hits}
        items = []
        for pid in page:
            if pid not in hits:  # deleted since the ranking was read
                continue
            it = item(hits[pid], r.fused[pid])
            if explain:
                (kr, ks), (vr, vs) = r.keyword.get(pid, (None, None)), r.vector.get(pid, (None, None))
                it["explain"] = _explain(kr, ks, vr, vs, r.fused[pid], pid in r.title)
            items.append(it)
        nxt = None
        if offset + size < min(r.total, len(r.order)):
            nxt = self.cursors.issue(fp, {"o": offset + size})
        return SearchPage(r.total, items, r.facets, nxt, mode, total_relation=r.relation, timed_out=r.timed_out)

    # -- neighbours
    async def similar(
        self, paper_id: str, size: int = 10, filters: Filters = Filters()
    ) -> tuple[list[dict[str, Any]], str]:
        """(items, method): vector neighbours when the paper has an embedding, else text neighbours."""
        if await self.index.get(paper_id) is None:
            raise NotFound(paper_id)
        emb = (await self.index.get_embeddings([paper_id])).get(paper_id)
        if emb is not None:
            hits = await self.index.knn(emb, size, filters, exclude_ids=[paper_id])
            return [item(h) for h in hits], "vector"
        return [item(h) for h in await self.index.more_like_this(paper_id, size, filters)], "text"

    async def recommend(self, positive: Sequence[str], negative: Sequence[str], size: int = 10) -> list[dict[str, Any]]:
        """Rocchio on embeddings: toward the mean of the liked papers, away from the disliked ones."""
        embs = await self.index.get_embeddings(list(positive) + list(negative))
        missing = [p for p in positive if p not in embs]
        if missing and len(missing) == len(positive):
            # No vectors for any positive paper: fall back to text neighbours of the first one.
            if await self.index.get(positive[0]) is None:
                raise NotFound(positive[0])
            hits = await self.index.more_like_this(positive[0], size + len(negative))
            return [item(h) for h in hits if h.id not in set(negative)][:size]
        pos = np.mean([embs[p] for p in positive if p in embs], axis=0)
        neg_vecs = [embs[n] for n in negative if n in embs]
        target = pos - 0.5 * np.mean(neg_vecs, axis=0) if neg_vecs else pos
        norm = float(np.linalg.norm(target)) or 1.0
        hits = await self.index.knn(
            [float(x) for x in target / norm], size, exclude_ids=list(positive) + list(negative)
        )
        return [item(h) for h in hits]

    async def suggest(self, prefix: str, size: int = 10) -> list[Suggestion]:
        return await self.index.suggest(prefix, size)


def _explain(
    k_rank: int | None, k_score: float | None, v_rank: int | None, v_score: float | None, fused: float, title: bool
) -> dict[str, Any]:
    return {
        "keyword_rank": k_rank,
        "keyword_score": k_score,
        "vector_rank": v_rank,
        "vector_score": v_score,
        "fused_score": fused,
        "title_match": title,
    }
