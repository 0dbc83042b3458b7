"""Exact cosine kNN: a numpy matrix of unit vectors indexed by docs.rid, kept in step with upserts."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ...sqlite import select_in
from ..mapping import EMBEDDING_DIMS
from ..port import Filters, SearchHit
from .keyword import filter_sql
from .store import Store


class Vectors:
    def __init__(self, store: Store) -> None:
        self.store, self.db = store, store.db
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
    ) -> list[SearchHit]:
        q = np.asarray(vector, dtype=np.float32)
        if q.shape != (EMBEDDING_DIMS,):
            raise ValueError(f"query vector has {q.size} dims, expected {EMBEDDING_DIMS}")
        norm = float(np.linalg.norm(q))
        n = len(self._has_vec)
        if k <= 0 or n == 0 or not math.isfinite(norm) or norm == 0.0:
            return []
        allowed = self._has_vec.copy()
        if not filters.empty:
            where, params = filter_sql(filters)
            rows = self.db.execute(f"SELECT d.rid FROM docs d WHERE d.has_vec = 1{where}", params)
            mask = np.zeros(n, dtype=bool)
            mask[np.fromiter((r[0] for r in rows), dtype=np.int64)] = True
            allowed &= mask
        if exclude_ids:
            excluded = select_in(self.db, "SELECT rid FROM docs WHERE id IN ({in})", exclude_ids)
            allowed[[r[0] for r in excluded]] = False
        k = min(k, int(allowed.sum()))
        if k == 0:
            return []
        scores = np.where(allowed, self._mat @ (q / norm), -np.inf)  # exact cosine: rows are unit vectors
        top = [int(r) for r in np.argpartition(-scores, k - 1)[:k]]
        ids = dict(select_in(self.db, "SELECT rid, id FROM docs WHERE rid IN ({in})", top))
        docs = self.store.docs(top, fields)
        hits = [SearchHit(ids[r], float(scores[r]), docs[r]) for r in top]
        hits.sort(key=lambda h: (-h.score, h.id))
        return hits
