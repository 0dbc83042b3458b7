"""Which new papers concern which subscriptions: saved searches by percolation (search.match) and libraries by
embedding similarity (paper.recommended). Both follow the subscription store: `sync` rebuilds what changed.

paper.recommended: a new paper goes to a subscription when its cosine similarity to the *nearest* paper of the
subscription's library (positivePaperIds, embeddings read from the index) is at least
PAPERWIRE_NOTIFIER_RECOMMEND_THRESHOLD (0.6 by default: on all-MiniLM-L6-v2, papers on the same problem are
typically 0.6-0.8, same field 0.3-0.5). The nearest paper, not the centroid: a library with two interests gets both.
Papers of the library itself are never recommended; papers without an embedding (PAPERWIRE_EMBEDDINGS=false)
cannot be.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from paperwire_common.events import PaperEnriched, SubscriptionRecord
from paperwire_common.logging import get_logger
from paperwire_common.percolator import KnownWords, Percolator
from paperwire_common.search.port import SearchIndex

log = get_logger(__name__)
LIBRARY_RECHECK_S = 60.0  # a library with papers not (yet) in the index is read again after this


@dataclass
class _Library:
    key: tuple[int, tuple[str, ...]]  # (revision, ids)
    ids: frozenset[str]
    vectors: np.ndarray  # unit rows, one per paper of `found`
    found: tuple[str, ...]
    complete: bool
    read_at: float


@dataclass(frozen=True)
class Recommendation:
    subscription_id: str
    paper_id: str
    similarity: float
    nearest_id: str


class Matching:
    def __init__(self, index: SearchIndex, threshold: float) -> None:
        self.index, self.threshold = index, threshold
        self.percolator = Percolator(KnownWords(index))
        self.libraries: dict[str, _Library] = {}
        self.by_id: dict[str, SubscriptionRecord] = {}
        self._seen_changes = -1

    async def sync(self, subs: Sequence[SubscriptionRecord], changes: int) -> None:
        stale = [
            lib
            for lib in self.libraries.values()
            if not lib.complete and time.monotonic() - lib.read_at > LIBRARY_RECHECK_S
        ]
        if changes == self._seen_changes and not stale:
            return
        live = [s for s in subs if s.channel == "webhook" and s.status == "active"]
        self.by_id = {s.id: s for s in live}
        await self.percolator.sync({s.id: s.query for s in live if "search.match" in s.events and s.query})
        wanted = {s.id: s for s in live if "paper.recommended" in s.events and s.positive_paper_ids}
        for sid in [k for k in self.libraries if k not in wanted]:
            del self.libraries[sid]
        for sid, s in wanted.items():
            key = (s.revision, tuple(s.positive_paper_ids))
            lib = self.libraries.get(sid)
            if (
                lib is None
                or lib.key != key
                or (not lib.complete and time.monotonic() - lib.read_at > LIBRARY_RECHECK_S)
            ):
                self.libraries[sid] = await self._read_library(key)
        self._seen_changes = changes

    async def _read_library(self, key: tuple[int, tuple[str, ...]]) -> _Library:
        ids = key[1]
        vecs = await self.index.get_embeddings(list(ids))
        rows = [np.asarray(vecs[i], dtype=np.float32) for i in ids if i in vecs]
        mat = np.stack(rows) if rows else np.zeros((0, 1), dtype=np.float32)
        if rows:
            mat /= np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-12)
        found = tuple(i for i in ids if i in vecs)
        return _Library(key, frozenset(ids), mat, found, len(found) == len(ids), time.monotonic())

    def recommend(self, papers: Sequence[PaperEnriched]) -> list[Recommendation]:
        withvec = [p for p in papers if p.embedding]
        if not withvec or not self.libraries:
            return []
        mat = np.asarray([p.embedding for p in withvec], dtype=np.float32)
        mat /= np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-12)
        out: list[Recommendation] = []
        for sid, lib in self.libraries.items():
            if lib.vectors.shape[0] == 0 or lib.vectors.shape[1] != mat.shape[1]:
                continue
            sims = mat @ lib.vectors.T
            best = sims.argmax(axis=1)
            for row, p in enumerate(withvec):
                s = float(sims[row, best[row]])
                if s >= self.threshold and p.paper.paper_id not in lib.ids:
                    out.append(Recommendation(sid, p.paper.paper_id, round(s, 4), lib.found[int(best[row])]))
        return out
