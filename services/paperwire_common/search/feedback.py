"""Pseudo-relevance feedback for semantic and hybrid search: what the best hits of a first pass, or the paper a
query names, say about the query, read back into its vector.

- Vector feedback (Rocchio on embeddings): the query vector moves toward the mean of its best `feedback_docs`
  hits; it finds paraphrased papers the query alone ranks too low.
- Known item: a query that is (most of) one paper's title names that paper, so the query vector moves toward
  that paper's own vector: the papers like it follow it, not the papers that share its generic words.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .document import fold_words
from .query import ParsedQuery

KNOWN_ITEM_COVER = 0.8  # share of a title's words the query must hold to name that paper


def moved(vec: Sequence[float], toward: Sequence[Sequence[float]], weight: float) -> list[float]:
    """The unit query vector plus `weight` times the mean of the unit vectors `toward`, normalised."""
    q = np.asarray(vec, dtype=np.float64)
    q /= np.linalg.norm(q) or 1.0
    top = np.asarray(toward, dtype=np.float64)
    top /= np.maximum(np.linalg.norm(top, axis=1, keepdims=True), 1e-12)
    out = q + weight * top.mean(axis=0)
    out /= np.linalg.norm(out) or 1.0
    return [float(x) for x in out]


def names_the_title(pq: ParsedQuery, title: str) -> bool:
    """The query's free text holds most of this title (the title pasted whole, give or take a word)."""
    if pq.title_phrase is None:
        return False
    return len(fold_words(pq.title_phrase)) >= KNOWN_ITEM_COVER * len(fold_words(title))
