"""Batch verification: a batch of analysed documents becomes one bitset per key (bit i: the batch's i-th document
has the key), and each candidate query is decided once for the whole batch -- AND, OR and AND NOT of bitsets, in
the query's own shape -- rather than once per document. A phrase of two terms is a key of its own (the bigram, in
one column); a longer phrase takes the documents holding all its bigrams and verifies them by positions
(compiled.matches), one by one.

The decision is `compiled.matches`' for every document (tests/unit/notifier/test_percolator.py holds both to
/v1/search). Keys: `t:<term>` (title or abstract), `c:<column>:<term>`, `k:<field>:<value>`, `y:<typo word>` (its
typo neighbours are in the document), as compiled.Leaf.key and the Percolator's document keys; and
`p:<column>:<term> <term>`, two consecutive terms of a column.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass

from .analysis import AnalyzedDoc
from .compiled import Compiled, Leaf, matches


@dataclass
class Batch:
    docs: Sequence[AnalyzedDoc]
    bits: dict[str, int]  # key -> the documents that have it
    fuzzy_docs: dict[str, set[int]]  # typo word -> document indexes (compiled.matches reads it)
    all: int  # every document of the batch

    def get(self, key: str) -> int:
        return self.bits.get(key, 0)


# A query compiled for batches: the bitset of the batch's documents it matches.
Evaluator = Callable[[Batch], int]


def ones(bits: int) -> Iterator[int]:
    """The positions of the set bits, lowest first."""
    while bits:
        low = bits & -bits
        yield low.bit_length() - 1
        bits ^= low


def referenced(node: Compiled) -> set[str]:
    """Every key an evaluator of this query reads (the batch's bitsets are built for those keys only)."""
    if isinstance(node, Leaf):
        if node.kind == "keyword" or len(node.terms) == 1:
            k = node.key()
            out = {k} if k is not None else set()
            return out | ({f"y:{node.typo_word}"} if node.typo_word else set())
        return {k for pair in _bigram_keys(node) for k in pair}
    return set().union(*(referenced(n) for n in (*node.must, *node.should, *node.must_not)))


def _bigram_keys(node: Leaf) -> list[tuple[str, ...]]:
    """Per consecutive pair of the phrase's terms, its bigram key in each column the phrase may be in."""
    cols = (node.column or "",) if node.kind == "column" else ("title", "abstract")
    pairs = itertools.pairwise(node.terms)
    return [tuple(f"p:{c}:{a} {b}" for c in cols) for a, b in pairs]


def evaluator(node: Compiled) -> Evaluator:
    if isinstance(node, Leaf):
        key = node.key()
        if key is None:
            return lambda b: 0
        if node.kind == "keyword" or len(node.terms) == 1:
            if node.typo_word is None:
                return lambda b: b.bits.get(key, 0)
            typo = f"y:{node.typo_word}"
            return lambda b: b.bits.get(key, 0) | b.bits.get(typo, 0)
        need = _bigram_keys(node)
        if len(need) == 1:  # two terms: the bigram decides
            (one,) = need
            return lambda b: _any(b, one)

        def phrase(b: Batch) -> int:
            cand = b.all
            for alternatives in need:  # the documents with every bigram, then their positions
                cand &= _any(b, alternatives)
                if not cand:
                    return 0
            out = 0
            for i in ones(cand):
                if matches(node, b.docs[i], b.fuzzy_docs):
                    out |= 1 << i
            return out

        return phrase
    must, should, must_not = ([evaluator(n) for n in ns] for ns in (node.must, node.should, node.must_not))
    need_should = node.min_should > 0

    def group(b: Batch) -> int:
        r = b.all
        for m in must:
            r &= m(b)
            if not r:
                return 0
        if need_should:
            s = 0
            for m in should:
                s |= m(b)
            r &= s
        for m in must_not:
            if not r:
                return 0
            r &= ~m(b)
        return r

    return group


def _any(b: Batch, keys: tuple[str, ...]) -> int:
    out = 0
    for k in keys:
        out |= b.bits.get(k, 0)
    return out


def build(docs: Sequence[AnalyzedDoc], fuzzy_docs: dict[str, set[int]], wanted: Collection[str]) -> Batch:
    """The batch's bitsets of the keys in `wanted` (those some indexed query reads)."""
    want_free: set[str] = set()
    want_col: dict[str, set[str]] = {}
    want_kw: dict[str, set[str]] = {}
    want_bi: dict[str, set[tuple[str, str]]] = {}  # column -> consecutive terms
    for k in wanted:
        kind, _, rest = k.partition(":")
        if kind == "t":
            want_free.add(rest)
        elif kind == "c":
            col, _, term = rest.partition(":")
            want_col.setdefault(col, set()).add(term)
        elif kind == "k":
            f, _, value = rest.partition(":")
            want_kw.setdefault(f, set()).add(value)
        elif kind == "p":
            col, _, pair = rest.partition(":")
            a, _, c = pair.partition(" ")
            want_bi.setdefault(col, set()).add((a, c))
    bits: dict[str, int] = {}

    def mark(key: str, bit: int) -> None:
        bits[key] = bits.get(key, 0) | bit

    for d in docs:
        bit = 1 << d.index
        for t in d.text_terms() & want_free:
            mark(f"t:{t}", bit)
        for col, wc in want_col.items():
            for t in d.terms(col) & wc:
                mark(f"c:{col}:{t}", bit)
        for f, wk in want_kw.items():
            for v in d.keywords.get(f, set()) & wk:
                mark(f"k:{f}:{v}", bit)
        for col, wp in want_bi.items():
            for a, c in d.pairs(col) & wp:
                mark(f"p:{col}:{a} {c}", bit)
    for w, idx in fuzzy_docs.items():
        bits[f"y:{w}"] = sum(1 << i for i in idx)
    return Batch(docs, bits, fuzzy_docs, (1 << len(docs)) - 1)
