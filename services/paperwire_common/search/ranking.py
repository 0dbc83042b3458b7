"""Semantic and hybrid search over the port's two primitives: their result sets, their ranking and one page.

Result sets (the same on every backend; the query's constraints and the filters restrict all of them):
- semantic: V = the `candidates` nearest documents whose cosine is at least `floor` (the relevance floor: a
  query about nothing in the corpus has no such document), or, when the query itself requires text (a phrase,
  +word, title:, ...), the nearest of the documents that match it, with no floor; plus the documents whose
  title contains the free text as a phrase;
- hybrid: K ∪ V, K = the keyword matches (constraints and at least one free word), V as above.

Ranking: titles that contain the free text as a phrase first (every mode), then
- semantic: by cosine to the query vector moved toward its `feedback_docs` best hits (pseudo-relevance feedback,
  feedback.py; the floor still applies to the query's own cosine, so a query about nothing stays with nothing);
  a query that names one paper's title stands for that paper: its vector moves toward the paper's first;
- hybrid: by a convex combination of normalised scores (Bruch et al., "An Analysis of Fusion Functions for
  Hybrid Retrieval", 2023): α·bm25/max bm25 + (1 − α)·(cos − floor)/(max cos − floor), 0 for a list a document
  is not in. Both normalisations depend on the best hit only, so a deeper read never reorders the head: a page
  at offset o reads the keyword top o + size + |V|, enough to rank its documents exactly.

`total` is |V| or |K ∪ V| (exact up to the window, then a lower bound, also when more vectors passed the floor
than the candidates kept), facets count that same set, and paging walks it to its end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from . import feedback
from .port import TOTAL_EXACT_UP_TO, Filters, SearchHit, SearchIndex, SearchRequest, SearchResponse, TotalRelation
from .query import EMPTY, ParsedQuery

Mode = Literal["keyword", "semantic", "hybrid"]
_IDS = ("id",)


@dataclass
class SearchPage:
    total: int
    items: list[dict[str, Any]]
    facets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    next_cursor: str | None = None
    mode: Mode = "keyword"
    degraded: str | None = None  # why the mode asked for was not the mode served
    total_relation: TotalRelation = "eq"
    timed_out: bool = False  # the time budget ran out: what was found by then


@dataclass(frozen=True)
class Fusion:
    keyword_weight: float = 0.05  # α of the convex combination, for keyword and vector top 10s that share nothing
    agreement_weight: float = 0.3  # ... plus this much times the share they have in common
    floor: float = 0.28  # minimum cosine of a vector-only result (see the README for its calibration)
    candidates: int = 100  # vector results kept per query
    feedback_docs: int = 3  # pseudo-relevance feedback: the query vector moves toward its best few hits ...
    feedback_weight: float = 0.6  # ... by this much (0: off)
    known_item_weight: float = 1.0  # a query naming one paper's title moves toward its vector this much (0: off)
    budget_s: float | None = None


def facet_dicts(res: SearchResponse) -> dict[str, list[dict[str, Any]]]:
    return {k: [{"value": v, "count": c} for v, c in vals] for k, vals in res.facets.items()}


def item(h: SearchHit, score: float | None = None) -> dict[str, Any]:
    return {**h.doc, "id": h.id, "score": h.score if score is None else score, "highlights": h.highlights}


@dataclass
class Ranked:
    """One semantic or hybrid ranking: ids best first, with what each score was made of."""

    order: list[str]
    total: int
    relation: TotalRelation
    fused: dict[str, float]
    keyword: dict[str, tuple[int, float]] = field(default_factory=dict)  # id -> (rank, bm25)
    vector: dict[str, tuple[int, float]] = field(default_factory=dict)  # id -> (rank, cosine)
    title: set[str] = field(default_factory=set)
    facets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    timed_out: bool = False


class Ranker:
    def __init__(self, index: SearchIndex, fusion: Fusion) -> None:
        self.index, self.f = index, fusion
        # Hybrid reads the keyword list up to this depth: pages beyond it would need a deeper, unbounded read.
        self.window = TOTAL_EXACT_UP_TO - fusion.candidates

    async def _vectors(
        self, pq: ParsedQuery, vec: Sequence[float], filters: Filters
    ) -> tuple[list[SearchHit], bool, list[float]]:
        """V, best first, whether more documents passed the floor than the candidates kept, and the query vector
        V is ranked by. V is the set the floor lets through (on the query's own cosine); its order comes from the
        query moved toward its best few hits (pseudo-relevance feedback, Rocchio on embeddings), which finds
        paraphrased papers the query alone ranks too low."""
        floor = None if pq.requires_text else self.f.floor
        hits = await self.index.knn(
            vec, self.f.candidates + 1, filters, _IDS, query=pq, min_score=floor, budget_s=self.f.budget_s
        )
        more, hits = len(hits) > self.f.candidates, hits[: self.f.candidates]
        if self.f.feedback_docs <= 0 or self.f.feedback_weight <= 0 or len(hits) < 2:
            return hits, more, list(vec)
        embs = await self.index.get_embeddings([h.id for h in hits[: self.f.feedback_docs]])
        if not embs:
            return hits, more, list(vec)
        q2 = feedback.moved(vec, list(embs.values()), self.f.feedback_weight)
        ranked = await self.index.knn(q2, len(hits), filters, _IDS, only=[h.id for h in hits], budget_s=self.f.budget_s)
        return ranked, more, q2

    async def _known_item(self, pq: ParsedQuery, vec: Sequence[float], filters: Filters) -> Sequence[float]:
        """The query vector, moved toward the one paper whose title the query names (feedback.py), if any: the
        relevance floor then applies to the moved vector (a query naming a paper is not about nothing)."""
        tq = pq.title_query()
        if tq is None or self.f.known_item_weight <= 0:
            return vec
        req = SearchRequest(tq, 2, filters, ("id", "title"), highlight=False, count=False, budget_s=self.f.budget_s)
        hits = (await self.index.search(req)).hits
        if len(hits) != 1 or not feedback.names_the_title(pq, str(hits[0].doc.get("title") or "")):
            return vec
        emb = (await self.index.get_embeddings([hits[0].id])).get(hits[0].id)
        return vec if emb is None else feedback.moved(vec, [emb], self.f.known_item_weight)

    async def _facets(self, ids: list[str], filters: Filters, names: tuple[str, ...]) -> dict[str, Any]:
        if not names or not ids:
            return {name: [] for name in names}
        res = await self.index.search(SearchRequest(EMPTY, 0, filters, only=tuple(ids), facets=names))
        return facet_dicts(res)

    async def _cosines(self, paper_ids: list[str], vec: Sequence[float]) -> dict[str, float]:
        q = np.asarray(vec, dtype=np.float64)
        q /= np.linalg.norm(q) or 1.0
        embs = await self.index.get_embeddings(paper_ids)
        return {pid: float(np.dot(q, e) / (np.linalg.norm(e) or 1.0)) for pid, e in embs.items()}

    async def semantic(
        self, pq: ParsedQuery, vec: Sequence[float], filters: Filters, facets: tuple[str, ...]
    ) -> Ranked:
        vhits, more, vec = await self._vectors(pq, await self._known_item(pq, vec, filters), filters)
        vector = {h.id: (i, h.score) for i, h in enumerate(vhits, 1)}
        title: set[str] = set()
        if (tq := pq.title_query()) is not None:
            # A title holding the query's phrase is a result whatever its cosine (a paper's own title finds it).
            req = SearchRequest(tq, self.f.candidates, filters, _IDS, highlight=False, count=False)
            title = {h.id for h in (await self.index.search(req)).hits}
            if extra := sorted(title - vector.keys()):
                cos = await self._cosines(extra, vec)
                vector.update({pid: (len(vhits) + 1 + i, cos.get(pid, 0.0)) for i, pid in enumerate(extra)})
        order = sorted(vector, key=lambda i: (i not in title, -vector[i][1], i))
        r = Ranked(order, len(order), "gte" if more else "eq", {i: vector[i][1] for i in order}, vector=vector)
        r.title, r.facets = title, await self._facets(order, filters, facets)
        return r

    async def hybrid(
        self,
        pq: ParsedQuery,
        vec: Sequence[float],
        filters: Filters,
        facets: tuple[str, ...],
        depth: int,
    ) -> Ranked:
        vhits, more, _ = await self._vectors(pq, await self._known_item(pq, vec, filters), filters)
        v_ids = tuple(h.id for h in vhits)
        depth = min(depth + len(v_ids), self.window)
        top = SearchRequest(
            pq, depth, filters, _IDS, facets=facets, highlight=False, also=v_ids, budget_s=self.f.budget_s
        )
        scored = SearchRequest(pq, len(v_ids), filters, _IDS, highlight=False, count=False, only=v_ids)
        kres, vres = await asyncio.gather(
            self.index.search(top),
            self.index.search(scored) if v_ids else asyncio.sleep(0, SearchResponse(0, [])),
        )
        in_k = {h.id: h for h in vres.hits}  # the vector hits that match the keywords too
        v_set = set(v_ids)
        for h in kres.hits:
            if h.id not in v_set:
                in_k[h.id] = h
        ranked_k = sorted(in_k.values(), key=lambda h: (not h.title_match, -h.score, h.id))
        keyword = {h.id: (i, h.score) for i, h in enumerate(ranked_k, 1)}
        vector = {h.id: (i, h.score) for i, h in enumerate(vhits, 1)}
        title = {h.id for h in in_k.values() if h.title_match}
        fused = self._fuse(keyword, vector)
        order = sorted(fused, key=lambda i: (i not in title, -fused[i], i))
        total, relation = kres.total, kres.total_relation
        if more:
            relation = "gte"
        if total > self.window:
            total, relation = self.window, "gte"
        return Ranked(
            order, total, relation, fused, keyword, vector, title, facet_dicts(kres), kres.timed_out or vres.timed_out
        )

    def weight(self, keyword: dict[str, tuple[int, float]], vector: dict[str, tuple[int, float]]) -> float:
        """α of one query: the base weight, plus `agreement_weight` times the share of the keyword top 10 that
        the vector top 10 holds too. Keywords that find what the meaning finds are trusted more; a paraphrase,
        whose words match other papers, is left to the vectors."""
        top_k = {pid for pid, (rank, _) in keyword.items() if rank <= 10}
        top_v = {pid for pid, (rank, _) in vector.items() if rank <= 10}
        agree = len(top_k & top_v) / 10.0
        return min(1.0, self.f.keyword_weight + self.f.agreement_weight * agree)

    def _fuse(self, keyword: dict[str, tuple[int, float]], vector: dict[str, tuple[int, float]]) -> dict[str, float]:
        a, floor = self.weight(keyword, vector), self.f.floor
        max_k = max((s for _, s in keyword.values()), default=0.0)
        max_v = max((s for _, s in vector.values()), default=0.0)
        out: dict[str, float] = {}
        for pid in keyword.keys() | vector.keys():
            k = keyword[pid][1] / max_k if pid in keyword and max_k > 0 else 0.0
            v = 0.0
            if pid in vector and max_v > floor:
                v = max(0.0, (vector[pid][1] - floor) / (max_v - floor))
            out[pid] = a * k + (1.0 - a) * v
        return out
