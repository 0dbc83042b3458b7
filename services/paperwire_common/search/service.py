"""Search modes above the SearchIndex port: keyword (BM25), semantic (kNN) and hybrid (reciprocal rank
fusion, done here because Elasticsearch's built-in RRF is a paid feature), plus similar papers,
recommendations and suggestions. The same code serves both backends.

Cursors are opaque, HMAC-signed and bound to the query, so a forged or reused cursor is a 400, not a 500.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from .port import Filters, SearchHit, SearchIndex, SearchRequest, SearchResponse, Suggestion
from .query import parse

Mode = Literal["keyword", "semantic", "hybrid"]
MODES: tuple[Mode, ...] = ("keyword", "semantic", "hybrid")


class QueryEncoder(Protocol):
    model_id: str

    def encode(self, texts: Sequence[str]) -> Any: ...


class SemanticUnavailable(Exception):
    """Semantic search needs the embedding model, which is not loaded (HTTP 503 with this reason)."""


class CursorError(ValueError):
    """A cursor that was not issued by us for this query (HTTP 400)."""


class NotFound(KeyError):
    pass


@dataclass
class SearchPage:
    total: int
    items: list[dict[str, Any]]
    facets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    next_cursor: str | None = None
    mode: Mode = "keyword"
    degraded: str | None = None  # why the mode asked for was not the mode served


def _facets(res: SearchResponse) -> dict[str, list[dict[str, Any]]]:
    return {k: [{"value": v, "count": c} for v, c in vals] for k, vals in res.facets.items()}


def _item(h: SearchHit) -> dict[str, Any]:
    return {**h.doc, "id": h.id, "score": h.score, "highlights": h.highlights}


class SearchService:
    def __init__(
        self,
        index: SearchIndex,
        encoder: QueryEncoder | None = None,
        *,
        cursor_secret: bytes,
        rrf_k: int = 60,
        candidates: int = 100,
        encoder_unavailable_reason: str = "the embedding model is not loaded",
    ) -> None:
        self.index, self.encoder = index, encoder
        self.secret = cursor_secret
        self.rrf_k, self.candidates = rrf_k, candidates
        self.unavailable_reason = encoder_unavailable_reason
        self._qcache: OrderedDict[str, list[float]] = OrderedDict()

    # -- cursors
    def _fingerprint(self, q: str, mode: Mode, filters: Filters, size: int) -> str:
        return hashlib.sha256(json.dumps([q, mode, filters.__dict__, size], sort_keys=True).encode()).hexdigest()[:16]

    def _cursor(self, fp: str, state: dict[str, Any]) -> str:
        body = base64.urlsafe_b64encode(json.dumps({"f": fp, **state}, separators=(",", ":")).encode()).decode()
        sig = hmac.new(self.secret, body.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{body}.{sig}"

    def _open_cursor(self, cursor: str, fp: str) -> dict[str, Any]:
        body, _, sig = cursor.rpartition(".")
        if not body or not cursor.isascii():  # compare_digest refuses non-ASCII str: no cursor of ours has any
            raise CursorError("invalid cursor: not issued by this server")
        good = hmac.new(self.secret, body.encode(), hashlib.sha256).hexdigest()[:32]
        if not hmac.compare_digest(sig, good):
            raise CursorError("invalid cursor: not issued by this server")
        state: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body.encode()))
        if state.get("f") != fp:
            raise CursorError("invalid cursor: it belongs to another query, mode, filter set or page size")
        return state

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
    ) -> SearchPage:
        parsed = parse(q)  # raises QuerySyntaxError (400) before anything else
        fp = self._fingerprint(q, mode, filters, size)
        state = self._open_cursor(cursor, fp) if cursor else {}
        text = parsed.positive_text()
        degraded = None
        if mode != "keyword" and not text.strip():
            degraded, mode = "no free text to embed: served as keyword search", "keyword"
        elif mode == "hybrid" and self.encoder is None:
            degraded, mode = (
                f"semantic part unavailable ({self.unavailable_reason}): served as keyword search",
                "keyword",
            )
        if mode == "keyword":
            page = await self._keyword(q, size, filters, fields, state, fp, explain)
        else:
            page = await self._fused(q, text, mode, size, filters, fields, state, fp, explain)
        page.degraded = degraded
        return page

    async def _keyword(
        self,
        q: str,
        size: int,
        filters: Filters,
        fields: tuple[str, ...] | None,
        state: dict[str, Any],
        fp: str,
        explain: bool,
    ) -> SearchPage:
        after = tuple(state["a"]) if state.get("a") is not None else None
        res = await self.index.search(
            SearchRequest(q=q, size=size, filters=filters, fields=fields, search_after=after, facets=True)
        )
        items = []
        for rank, h in enumerate(res.hits, start=int(state.get("n", 0)) + 1):
            it = _item(h)
            if explain:
                it["explain"] = {
                    "keyword_rank": rank,
                    "keyword_score": h.score,
                    "vector_rank": None,
                    "vector_score": None,
                    "fused_score": h.score,
                }
            items.append(it)
        seen = int(state.get("n", 0)) + len(res.hits)
        nxt = None
        if len(res.hits) == size and seen < res.total and res.hits[-1].sort is not None:
            nxt = self._cursor(fp, {"a": list(res.hits[-1].sort), "n": seen})
        facets = _facets(res)
        return SearchPage(res.total, items, facets, nxt, "keyword")

    async def _fused(
        self,
        q: str,
        text: str,
        mode: Mode,
        size: int,
        filters: Filters,
        fields: tuple[str, ...] | None,
        state: dict[str, Any],
        fp: str,
        explain: bool,
    ) -> SearchPage:
        # Up to 2 x candidates are fused (keyword and vector lists): every one of them is reachable by paging.
        offset = int(state.get("o", 0))
        vec = await self.embed_query(text)
        # Candidates are ranks and ids only: the page's documents are read once it is known. On Elasticsearch,
        # loading the stored source of 200 candidates (each with its embedding) cost more than the searches.
        ids = ("id",)
        krank: dict[str, tuple[int, SearchHit]] = {}
        highlights: dict[str, dict[str, list[str]]] = {}
        facets: dict[str, list[dict[str, Any]]] = {}
        if mode == "hybrid":
            # Highlighting 100 candidates costs Elasticsearch ~7x the search: the highlights come from the
            # keyword top (the hits a page can show them for) in a small uncounted query, run alongside.
            vhits, kres, top = await asyncio.gather(
                self.index.knn(vec, self.candidates, filters, ids),
                self.index.search(
                    SearchRequest(
                        q=q, size=self.candidates, filters=filters, fields=ids, facets=offset == 0, highlight=False
                    )
                ),
                self.index.search(SearchRequest(q=q, size=offset + size, filters=filters, fields=ids, count=False)),
            )
            highlights = {h.id: h.highlights for h in top.hits}
            krank = {h.id: (i, h) for i, h in enumerate(kres.hits, 1)}
            vrank = {h.id: (i, h) for i, h in enumerate(vhits, 1)}
            facets = _facets(kres)
            total = len(set(krank) | set(vrank))
            fused = {
                pid: sum(1.0 / (self.rrf_k + r[0]) for r in (krank.get(pid), vrank.get(pid)) if r)
                for pid in set(krank) | set(vrank)
            }
        else:
            vhits = await self.index.knn(vec, self.candidates, filters, ids)
            vrank = {h.id: (i, h) for i, h in enumerate(vhits, 1)}
            total = len(vhits)
            fused = {h.id: h.score for h in vhits}
        order = sorted(fused, key=lambda pid: (-fused[pid], pid))
        page = order[offset : offset + size]
        docs = await self.index.get_many(page, fields)
        items = []
        for pid in page:
            if pid not in docs:  # deleted since the candidates were read
                continue
            kh, vh = krank.get(pid), vrank.get(pid)
            hit = SearchHit(pid, fused[pid], docs[pid], highlights.get(pid, {}) if kh else {})
            it = _item(hit)
            if explain:
                it["explain"] = {
                    "keyword_rank": kh[0] if kh else None,
                    "keyword_score": kh[1].score if kh else None,
                    "vector_rank": vh[0] if vh else None,
                    "vector_score": vh[1].score if vh else None,
                    "fused_score": fused[pid],
                }
            items.append(it)
        nxt = self._cursor(fp, {"o": offset + size}) if offset + size < len(order) else None
        return SearchPage(total, items, facets, nxt, mode)

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
            return [_item(h) for h in hits], "vector"
        return [_item(h) for h in await self.index.more_like_this(paper_id, size, filters)], "text"

    async def recommend(self, positive: Sequence[str], negative: Sequence[str], size: int = 10) -> list[dict[str, Any]]:
        """Rocchio on embeddings: toward the mean of the liked papers, away from the disliked ones."""
        embs = await self.index.get_embeddings(list(positive) + list(negative))
        missing = [p for p in positive if p not in embs]
        if missing and len(missing) == len(positive):
            # No vectors for any positive paper: fall back to text neighbours of the first one.
            if await self.index.get(positive[0]) is None:
                raise NotFound(positive[0])
            hits = await self.index.more_like_this(positive[0], size + len(negative))
            return [_item(h) for h in hits if h.id not in set(negative)][:size]
        pos = np.mean([embs[p] for p in positive if p in embs], axis=0)
        neg_vecs = [embs[n] for n in negative if n in embs]
        target = pos - 0.5 * np.mean(neg_vecs, axis=0) if neg_vecs else pos
        norm = float(np.linalg.norm(target)) or 1.0
        hits = await self.index.knn(
            [float(x) for x in target / norm], size, exclude_ids=list(positive) + list(negative)
        )
        return [_item(h) for h in hits]

    async def suggest(self, prefix: str, size: int = 10) -> list[Suggestion]:
        return await self.index.suggest(prefix, size)
