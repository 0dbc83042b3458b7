"""The index's own vocabulary: stems by its tokenizer, typo expansions of free words (the bounded
optimal-string-alignment distance Elasticsearch's fuzzy queries use), term document counts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .store import Store

try:  # optional: a C implementation of the same distance
    from rapidfuzz.distance import OSA as _OSA
except ImportError:  # pragma: no cover - depends on the environment
    _OSA = None  # type: ignore[assignment]

MAX_EXPANSIONS = 50  # Elasticsearch's fuzzy max_expansions default


def within_edits(a: str, b: str, k: int) -> bool:
    """Optimal-string-alignment (Damerau-Levenshtein with adjacent transpositions) distance <= k: the distance
    Elasticsearch's fuzzy queries use."""
    if _OSA is not None:  # pragma: no cover - depends on the environment
        return bool(_OSA.distance(a, b, score_cutoff=k) <= k)
    return osa_within(a, b, k)


def osa_within(a: str, b: str, k: int) -> bool:
    # A common prefix/suffix never needs an edit; at the first difference an alignment substitutes, deletes,
    # inserts or transposes, so a depth-k search decides it without the full DP table (k <= 2 here).
    i, n = 0, min(len(a), len(b))
    while i < n and a[i] == b[i]:
        i += 1
    a, b = a[i:], b[i:]
    j, n = 0, min(len(a), len(b))
    while j < n and a[-1 - j] == b[-1 - j]:
        j += 1
    if j:
        a, b = a[:-j], b[:-j]
    if not a or not b:
        return max(len(a), len(b)) <= k
    if k == 0 or abs(len(a) - len(b)) > k:
        return False
    return (
        osa_within(a[1:], b[1:], k - 1)
        or osa_within(a[1:], b, k - 1)
        or osa_within(a, b[1:], k - 1)
        or (len(a) > 1 and len(b) > 1 and a[0] == b[1] and a[1] == b[0] and osa_within(a[2:], b[2:], k - 1))
    )


def max_edits(term: str) -> int:
    """Elasticsearch's fuzziness AUTO:4,8 on the analysed term: exact below 4 characters, 1 edit below 8, else 2."""
    return 0 if len(term) < 4 else 1 if len(term) < 8 else 2


_STEM_CACHE_MAX = 20_000


class Vocabulary:
    def __init__(self, store: Store) -> None:
        self.db = store.db
        self._stem_cache: dict[str, str | None] = {}

    def stems(self, words: Iterable[str]) -> dict[str, str | None]:
        """word -> its stem as the index has it (None: not a single token)."""
        words = list(words)
        todo = [w for w in dict.fromkeys(words) if w not in self._stem_cache]
        if todo:
            if len(self._stem_cache) > _STEM_CACHE_MAX:
                self._stem_cache.clear()
            self.db.executemany("INSERT INTO temp.probe (rowid, w) VALUES (?, ?)", enumerate(todo))
            got: dict[int, list[str]] = {}
            for doc, term in self.db.execute("SELECT doc, term FROM temp.probe_instances"):
                got.setdefault(doc, []).append(term)
            self.db.execute("INSERT INTO temp.probe (probe) VALUES ('delete-all')")
            for i, w in enumerate(todo):
                terms = got.get(i, [])
                self._stem_cache[w] = terms[0] if len(terms) == 1 else None
        return {w: self._stem_cache.get(w) for w in words}

    def expansions(self, word: str) -> list[str]:
        """Typo tolerance: vocabulary terms close to a free word that is not itself in the vocabulary."""
        w = word.lower()
        if not w.isalnum():
            return []
        stem = self.stems([w])[w]
        if stem is None or (k := max_edits(stem)) == 0:
            return []
        if self.db.execute("SELECT 1 FROM terms WHERE term = ?", (stem,)).fetchone():
            return []  # exact matches only: so they always outrank would-be fuzzy ones
        # prefix_length 1: the first letter is never the typo. One range scan of the terms starting with it.
        first = stem[0]
        rows = self.db.execute(
            "SELECT term, df FROM terms WHERE term >= ? AND term < ? AND length(term) BETWEEN ? AND ?",
            (first, chr(ord(first) + 1), len(stem) - k, len(stem) + k),
        )
        near = sorted((1 if within_edits(stem, t, 1) else 2, -df, t) for t, df in rows if within_edits(stem, t, k))
        cands = [t for _, _, t in near[:MAX_EXPANSIONS]]
        stems = self.stems(cands)
        return [t for t in cands if stems[t] == t]  # a stem that stems to itself finds what it stands for

    def term_counts(self, texts: Sequence[str]) -> list[tuple[str, int]]:
        """(stemmed term, number of `texts` containing it), by the index's own tokenizer."""
        if not texts:
            return []
        self.db.executemany("INSERT INTO temp.probe (rowid, w) VALUES (?, ?)", enumerate(texts))
        rows = self.db.execute("SELECT term, doc FROM temp.probe_rows").fetchall()
        self.db.execute("INSERT INTO temp.probe (probe) VALUES ('delete-all')")
        return rows
