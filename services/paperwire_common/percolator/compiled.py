"""A saved search compiled for percolation: the parsed query (search.query, parsed once) with its leaves analysed,
its pre-filter keys, and `matches`, which decides one analysed document with the keyword semantics of /v1/search.

Semantics (those of the embedded index's MATCH expressions, which the contract tests hold Elasticsearch to):
- a free word matches a title or abstract containing its stem; a free word the index does not know (no exact match
  anywhere) gets typo tolerance: Elasticsearch's AUTO:4,8 edits (none below 4 characters, 1 below 8, else 2) on the
  stem, the first letter fixed; a word of several tokens ("covid-19") is a phrase;
- "phrases" match consecutive tokens within one of title and abstract; `title:`/`abstract:`/`author:`/`method:`/
  `dataset:` match a token or phrase in that column; `topic:` a topic id or label, `source:`, `code:yes|no`
  exactly (case-insensitive);
- a group matches when every must matches, no must_not matches and, without a must, at least one should matches.

Pre-filter keys (what a document must contain for the query to possibly match): a leaf's rarest-looking term
(the longest); a group with musts: the keys of one must (the one with the fewest keys); without musts: the union of
its shoulds' keys; a group that can match with no positive term (only exclusions) has none: it is always a candidate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from ..search.query import Clause, Node, parse
from .analysis import AnalyzedDoc, Analyzer

_COLUMN = {"title": "title", "abstract": "abstract", "authors": "authors", "methods": "methods", "datasets": "datasets"}


def max_edits(term: str) -> int:
    """Elasticsearch's fuzziness AUTO:4,8 on the analysed term."""
    return 0 if len(term) < 4 else 1 if len(term) < 8 else 2


@dataclass(frozen=True)
class Leaf:
    kind: str  # "free" (title or abstract), "column", "keyword"
    terms: tuple[str, ...] = ()
    column: str | None = None
    value: str | None = None  # keyword value (lower-cased)
    typo_word: str | None = None  # a free single word that may get typo tolerance (lower-cased surface form)

    def key(self) -> str | None:
        if self.kind == "keyword":
            return f"k:{self.column}:{self.value}"
        if not self.terms:
            return None
        longest = max(self.terms, key=len)
        return f"t:{longest}" if self.kind == "free" else f"c:{self.column}:{longest}"


@dataclass(frozen=True)
class Group:
    should: tuple[Compiled, ...]
    must: tuple[Compiled, ...]
    must_not: tuple[Compiled, ...]

    @property
    def min_should(self) -> int:
        return 1 if self.should and not self.must else 0


Compiled: TypeAlias = Leaf | Group


def compile_node(node: Node, analyzer: Analyzer) -> Compiled:
    if isinstance(node, Clause):
        return _leaf(node, analyzer)
    return Group(
        tuple(compile_node(n, analyzer) for n in node.should),
        tuple(compile_node(n, analyzer) for n in node.must),
        tuple(compile_node(n, analyzer) for n in node.must_not),
    )


def _leaf(c: Clause, analyzer: Analyzer) -> Leaf:
    if c.field is None:
        terms = analyzer.terms(c.text)
        typo = c.text.lower() if not c.phrase and c.text.isalnum() and len(terms) == 1 else None
        return Leaf("free", terms, typo_word=typo)
    if c.field in _COLUMN:
        return Leaf("column", analyzer.terms(c.text), column=_COLUMN[c.field])
    if c.field == "has_code":
        return Leaf("keyword", column="has_code", value="true" if c.yes else "false")
    return Leaf("keyword", column=c.field, value=c.text.lower())


def compile_query(q: str, analyzer: Analyzer) -> Compiled:
    """Parse (QuerySyntaxError on bad input) and compile what keyword search matches: the parsed query's root
    (repeats collapsed, stop words out of the ranked free words)."""
    return compile_node(parse(q).root, analyzer)


def keys(node: Compiled, typo_key: dict[str, str]) -> set[str] | None:
    """Pre-filter keys, or None when the node can match a document without any of them. `typo_key` maps the typo
    words that currently get typo tolerance to their extra key."""
    if isinstance(node, Leaf):
        k = node.key()
        if k is None:
            return None
        out = {k}
        if node.typo_word is not None and node.typo_word in typo_key:
            out.add(typo_key[node.typo_word])
        return out
    if node.must:
        options = [k for k in (keys(n, typo_key) for n in node.must) if k is not None]
        return min(options, key=len) if options else None
    if node.should:
        union: set[str] = set()
        for n in node.should:
            got = keys(n, typo_key)
            if got is None:
                return None
            union |= got
        return union
    return None


def typo_words(node: Compiled) -> set[str]:
    if isinstance(node, Leaf):
        return {node.typo_word} if node.typo_word else set()
    return set().union(*(typo_words(n) for n in (*node.should, *node.must, *node.must_not)))


def _phrase(seq: list[str], terms: tuple[str, ...]) -> bool:
    """The terms, consecutive, somewhere in the column's term sequence."""
    want, n, i = list(terms), len(terms), -1
    try:
        while True:
            i = seq.index(want[0], i + 1)
            if seq[i : i + n] == want:
                return True
    except ValueError:
        return False


def matches(node: Compiled, doc: AnalyzedDoc, fuzzy_docs: dict[str, set[int]]) -> bool:
    """`fuzzy_docs`: typo word -> indexes (in the batch) of the documents its typo tolerance matches."""
    if isinstance(node, Leaf):
        if node.kind == "keyword":
            return node.value in doc.keywords.get(node.column or "", set())
        if not node.terms:
            return False
        if node.kind == "column":
            col = node.column or ""
            if len(node.terms) == 1:
                return node.terms[0] in doc.terms(col)
            return _phrase(doc.tokens.get(col, []), node.terms)
        if len(node.terms) == 1:
            t = node.terms[0]
            if t in doc.terms("title") or t in doc.terms("abstract"):
                return True
            return node.typo_word is not None and doc.index in fuzzy_docs.get(node.typo_word, ())
        return _phrase(doc.tokens.get("title", []), node.terms) or _phrase(doc.tokens.get("abstract", []), node.terms)
    if any(matches(n, doc, fuzzy_docs) for n in node.must_not):
        return False
    if not all(matches(n, doc, fuzzy_docs) for n in node.must):
        return False
    return not node.min_should or any(matches(n, doc, fuzzy_docs) for n in node.should)


def empty(q: str) -> bool:
    """The query has no term: it would match every paper."""
    return parse(q).empty
