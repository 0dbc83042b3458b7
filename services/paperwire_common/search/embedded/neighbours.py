"""Neighbours on the embedded index: exact cosine kNN over a numpy matrix of unit vectors indexed by docs.rid
(kept in step with upserts), restricted by filters and a query's constraints; and the text neighbours of a
paper (more-like-this: its most telling title and abstract terms, OR'ed, by bm25)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ...sqlite import select_in
from ..document import fold_words
from ..mapping import EMBEDDING_DIMS
from ..port import Filters, SearchHit
from ..query import ParsedQuery
from .keyword import KeywordSearch, filter_sql
from .store import BM25, TEXT, Store, quote
from .vocabulary import Vocabulary

MLT_TERMS = 25  # Elasticsearch's max_query_terms default


class Vectors:
    def __init__(self, store: Store, keyword: KeywordSearch) -> None:
        self.store, self.db, self.keyword = store, store.db, keyword
        self._mat = np.zeros((0, EMBEDDING_DIMS), dtype=np.float32)  # unit vectors, row = docs.rid
        self._has_vec = np.zeros(0, dtype=bool)

    def load(self) -> None:
        for rid, blob in self.db.execute("SELECT rid, embedding FROM bodies WHERE embedding IS NOT NULL"):
            self.set(rid, np.frombuffer(blob, dtype=np.float32))

    def set(self, rid: int, vec: np.ndarray | None) -> None:
        if rid >= len(self._has_vec):
            cap = max(rid + 1, 2 * len(self._has_vec), 1024)
            mat = np.zeros((cap, EMBEDDING_DIMS), dtype=np.float32)
            mat[: len(self._mat)] = self._mat
            has = np.zeros(cap, dtype=bool)
            has[: len(self._has_vec)] = self._has_vec
            self._mat, self._has_vec = mat, has
        if vec is None:
            self._mat[rid] = 0.0
            self._has_vec[rid] = False
        else:
            self._mat[rid] = vec / np.linalg.norm(vec)
            self._has_vec[rid] = True

    def knn(
        self,
        vector: Sequence[float],
        k: int,
        filters: Filters,
        fields: tuple[str, ...] | None,
        exclude_ids: Sequence[str],
        query: ParsedQuery | None = None,
        min_score: float | None = None,
        only: Sequence[str] | None = None,
    ) -> list[SearchHit]:
        q = np.asarray(vector, dtype=np.float32)
        if q.shape != (EMBEDDING_DIMS,):
            raise ValueError(f"query vector has {q.size} dims, expected {EMBEDDING_DIMS}")
        norm = float(np.linalg.norm(q))
        n = len(self._has_vec)
        if k <= 0 or n == 0 or not math.isfinite(norm) or norm == 0.0:
            return []
        allowed = self._has_vec.copy()
        where, params = filter_sql(filters)
        if query is not None:
            cond, cond_params = self.keyword.constraint_sql(query.constraints)
            where, params = where + cond, params + cond_params
        if where:
            rows = self.db.execute(f"SELECT d.rid FROM docs d WHERE d.has_vec = 1{where}", params)
            mask = np.zeros(n, dtype=bool)
            mask[np.fromiter((r[0] for r in rows), dtype=np.int64)] = True
            allowed &= mask
        if exclude_ids:
            excluded = select_in(self.db, "SELECT rid FROM docs WHERE id IN ({in})", exclude_ids)
            allowed[[r[0] for r in excluded]] = False
        if only is not None:
            mask = np.zeros(n, dtype=bool)
            mask[[r[0] for r in select_in(self.db, "SELECT rid FROM docs WHERE id IN ({in})", only)]] = True
            allowed &= mask
        scores = np.where(allowed, self._mat @ (q / norm), -np.inf)  # exact cosine: rows are unit vectors
        if min_score is not None:
            scores[scores < min_score] = -np.inf
        k = min(k, int(np.isfinite(scores).sum()))
        if k == 0:
            return []
        top = [int(r) for r in np.argpartition(-scores, k - 1)[:k]]
        ids = dict(select_in(self.db, "SELECT rid, id FROM docs WHERE rid IN ({in})", top))
        docs = self.store.docs(top, fields)
        hits = [SearchHit(ids[r], float(scores[r]), docs[r]) for r in top]
        hits.sort(key=lambda h: (-h.score, h.id))
        return hits


def more_like_this(store: Store, vocabulary: Vocabulary, paper_id: str, size: int, filters: Filters) -> list[SearchHit]:
    doc = store.get(paper_id)
    if doc is None or size <= 0:
        return []
    title, abstract = fold_words(str(doc.get("title") or "")), fold_words(str(doc.get("abstract") or ""))
    stems = vocabulary.stems(title + abstract)
    tf: Counter[str] = Counter()
    surface: dict[str, str] = {}
    for words, weight in ((title, 3), (abstract, 1)):  # title words count like the title^3 boost
        for w in words:
            if (s := stems.get(w)) is not None:
                tf[s] += weight
                surface.setdefault(s, w)
    if not tf:
        return []
    dfs = dict(select_in(store.db, "SELECT term, df FROM terms WHERE term IN ({in})", list(tf)))
    n_docs = store.count()
    scored = sorted(
        (-f * (1 + math.log((n_docs + 1) / (dfs[s] + 1))), s)
        for s, f in tf.items()
        if dfs.get(s, 0) >= 2  # a term only this paper has cannot find a neighbour
    )
    terms = [surface[s] for _, s in scored[:MLT_TERMS]]
    if not terms:
        return []
    expr = " OR ".join(f"{TEXT} : {quote(w)}" for w in terms)
    where, params = filter_sql(filters)
    rows = store.db.execute(
        f"SELECT d.rid, {BM25} AS s, d.id FROM docs_fts JOIN docs d ON d.rid = docs_fts.rowid "
        f"WHERE docs_fts MATCH ? AND d.id <> ?{where} ORDER BY s DESC, d.id LIMIT ?",
        (expr, paper_id, *params, size),
    ).fetchall()
    docs = store.docs([r[0] for r in rows], None)
    return [SearchHit(pid, float(score), docs[rid]) for rid, score, pid in rows]
