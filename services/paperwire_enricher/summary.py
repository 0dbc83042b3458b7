"""Extractive summary: the abstract's most central sentences, in their order.

Each sentence is a bag of content words (lower-cased, stop words dropped, crudely stemmed by suffix) and the
abstract is their sum; the sentences whose vectors have the highest cosine similarity to the whole abstract's are
the ones that say most of what it says (a centroid summary; no model call, so it costs microseconds, not another
embedding per sentence). The digest shows it as the paper's two lines; feeds and the site may use it too.
"""

from __future__ import annotations

import math
import re
from collections import Counter

MAX_SENTENCES = 2
MAX_CHARS = 400
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")
_WORD = re.compile(r"[a-z][a-z0-9-]+")
_STOP = frozenset(
    "a an and are as at be been by can do for from has have in into is it its of on or our that the their these "
    "this those to was we were which while with without also than then there such via both each not only more most "
    "other we'll using use used show shows shown propose proposed paper present presents approach method work".split()
)


def _stem(w: str) -> str:
    for suffix in ("ations", "ation", "ings", "ing", "ies", "es", "s", "ed", "ly"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 4:
            return w[: -len(suffix)]
    return w


def _bag(text: str) -> Counter[str]:
    return Counter(_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SPLIT.split(" ".join(text.split())) if s.strip()]


def summarize(abstract: str, max_sentences: int = MAX_SENTENCES, max_chars: int = MAX_CHARS) -> str | None:
    """None for an empty abstract; the abstract itself when it is short enough."""
    sents = sentences(abstract)
    if not sents:
        return None
    if len(sents) <= max_sentences and sum(len(s) for s in sents) <= max_chars:
        return " ".join(sents)
    whole = _bag(abstract)
    norm_whole = math.sqrt(sum(v * v for v in whole.values())) or 1.0

    def centrality(i: int) -> float:
        bag = _bag(sents[i])
        norm = math.sqrt(sum(v * v for v in bag.values()))
        if not norm:
            return 0.0
        return sum(c * whole[w] for w, c in bag.items()) / (norm * norm_whole)

    ranked = sorted(range(len(sents)), key=lambda i: (-centrality(i), i))
    chosen: list[int] = []
    for i in ranked:
        if len(chosen) == max_sentences:
            break
        if sum(len(sents[j]) for j in chosen) + len(sents[i]) <= max_chars or not chosen:
            chosen.append(i)
    text = " ".join(sents[i] for i in sorted(chosen))
    return text if len(text) <= max_chars else text[: max_chars - 1].rsplit(" ", 1)[0] + "…"
