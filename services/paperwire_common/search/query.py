"""Parse the user's query string once into a ParsedQuery, which every mode and every backend translates.

Grammar (v3), loosest binding first:

    query    := item*                      juxtaposition: a ranked OR (see below)
    item     := and_expr ("OR" and_expr)*
    and_expr := unary ("AND" unary)*
    unary    := "NOT" unary | ["+" | "-"] atom
    atom     := "(" item* ")" | [field ":"] (word | "phrase")

Juxtaposed bare words are a ranked OR: in keyword mode at least one must match and more matches rank higher.
Fielded terms, "quoted phrases" and +terms are required, -terms and NOT exclude; groups and AND/OR expressions
are ranked like bare words unless signed. AND binds tighter than juxtaposition: `a b AND c` is `a OR (b AND c)`,
ranked. Operators are upper-case only ("and"/"or"/"not" are words). Errors are QuerySyntaxError with a message
meant for the user (HTTP 400).

What a parse means for search (ParsedQuery), the same in every mode and on every backend:
- `root` is what matches. Repeated terms collapse (they only multiply the work: 500 `a`s are one `a`); stop
  words ("of", "the", "how", ...) leave a ranked OR that has other words, so "mixture of experts" needs
  "mixture" or "experts", not "of".
- `constraints` (the root's required and excluded clauses) restrict every mode: keyword, and the vector
  search of semantic and hybrid mode alike. Free words only rank there.
- `text` is what the sentence encoder sees: the positive free, title and abstract text in the user's order,
  stop words kept (the encoder reads them).
- `title_phrase` is the free text as one phrase (2 to MAX_PHRASE_WORDS words, stop words kept): a title that
  contains it ranks first (a paper's own title finds that paper first in every mode).
- `typo_words` are the free words that may get typo tolerance: the first MAX_TYPO_WORDS distinct ones, so no
  query can ask an index for thousands of fuzzy expansions.
- `highlight` are the clauses highlights mark: the first MAX_HIGHLIGHT_CLAUSES positive text clauses (exact,
  no typo neighbours); highlighting re-runs them on every hit of the page, so their number is bounded too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from .document import fold_words
from .syntax import (
    FIELDS,
    MAX_DEPTH,
    MAX_QUERY_CHARS,
    TEXT_FIELDS,
    BoolQuery,
    Clause,
    Node,
    Parser,
    QuerySyntaxError,
    tokens,
)

__all__ = [
    "EMPTY",
    "FIELDS",
    "MAX_DEPTH",
    "MAX_QUERY_CHARS",
    "BoolQuery",
    "Clause",
    "Node",
    "ParsedQuery",
    "QuerySyntaxError",
    "check_date",
    "parse",
    "walk",
]

# Lucene's English stop set, plus the question words of natural-language queries ("how does ... grow").
STOP_WORDS = frozenset(
    """a an and are as at be but by for if in into is it no not of on or such that the their then there these
    they this to was will with how what which who whom why when where does do did can could would should we our
    you your i from about its has have""".split()
)
MAX_PHRASE_WORDS = 16
MAX_TEXT_CLAUSES = 128  # the encoder reads 128 tokens at most
MAX_TYPO_WORDS = 8
MAX_HIGHLIGHT_CLAUSES = 16
_KEYWORD_FIELDS = ("topics", "source", "has_code")  # exact-value fields: they filter, they are no text


@dataclass(frozen=True)
class ParsedQuery:
    root: BoolQuery
    text: str = ""
    title_phrase: str | None = None
    typo_words: frozenset[str] = frozenset()
    highlight: tuple[Clause, ...] = ()

    @property
    def empty(self) -> bool:
        return self.root.empty

    @property
    def constraints(self) -> BoolQuery:
        """The required and excluded part: what every mode's results satisfy (empty: no restriction)."""
        return BoolQuery(must=list(self.root.must), must_not=list(self.root.must_not))

    @property
    def requires_text(self) -> bool:
        """Whether a required clause is about text (a phrase, +word, title:, author:, ...), not just a filter
        (code:, topic:, source:): its matches are then the candidates, with no relevance floor."""
        return any(c.field not in _KEYWORD_FIELDS for n in self.root.must for c in walk(n))

    @property
    def required_phrases(self) -> list[Clause]:
        """The root's required phrases on the text (free, title:, abstract:). They match exactly but rank as their
        words do: BM25 of a phrase differs between engines (Lucene sums its words' IDFs, FTS5 counts the phrase as
        one rarer term), BM25 of words does not, so both adapters rank such a phrase as its words."""
        return [n for n in self.root.must if isinstance(n, Clause) and n.phrase and n.field in TEXT_FIELDS]

    def title_query(self) -> ParsedQuery | None:
        """The papers whose title contains the free text as a phrase, under the same constraints; None when the
        free text has fewer than two words."""
        if self.title_phrase is None:
            return None
        phrase = Clause(self.title_phrase, "title", True)
        return ParsedQuery(BoolQuery(must=[phrase, *self.root.must], must_not=list(self.root.must_not)))


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def parse(q: str) -> ParsedQuery:
    if len(q) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(f"query is {len(q)} characters long; the limit is {MAX_QUERY_CHARS}")
    if q.count('"') % 2:
        raise QuerySyntaxError('unbalanced quote: every " needs a closing "')
    if _CONTROL.search(q):
        raise QuerySyntaxError("the query contains a control character (such as NUL); remove it")
    p = Parser(tokens(q))
    root = p.sequence()
    if (t := p.peek()) is not None:
        raise QuerySyntaxError(f"unbalanced parentheses: ')' at character {t.pos} has no '('")
    # `a AND b` alone is its own root rather than a one-clause ranked OR around it.
    if len(root.should) == 1 and not root.must and not root.must_not and isinstance(root.should[0], BoolQuery):
        root = root.should[0]
    # The encoder and the title phrase read the query as written (repeats and stop words included).
    positive = sorted(_positive(root), key=lambda c: c.pos)[:MAX_TEXT_CLAUSES]
    text = " ".join(c.text for c in positive if c.field in TEXT_FIELDS)
    free = [c.text for c in sorted((*root.should, *root.must), key=_pos) if isinstance(c, Clause) and c.field is None]
    phrase = " ".join(free[: MAX_PHRASE_WORDS + 1])
    n_words = len(fold_words(phrase))
    _collapse_repeats(root)
    matching = _without_stop_words(root)
    typo = [c.text.lower() for c in walk(matching) if c.field is None and not c.phrase and c.text.isalnum()]
    marks = [c for c in sorted(_positive(matching), key=lambda c: c.pos) if c.field in TEXT_FIELDS]
    return ParsedQuery(
        matching,
        text=text,
        title_phrase=phrase if 2 <= n_words <= MAX_PHRASE_WORDS else None,
        typo_words=frozenset(list(dict.fromkeys(typo))[:MAX_TYPO_WORDS]),
        highlight=tuple(dict.fromkeys(marks))[:MAX_HIGHLIGHT_CLAUSES],
    )


def walk(node: Node) -> Iterator[Clause]:
    """Every leaf, negated or not."""
    if isinstance(node, Clause):
        yield node
        return
    for child in node.should + node.must + node.must_not:
        yield from walk(child)


def check_date(value: str, name: str) -> date:
    """A filter date (YYYY-MM-DD), or QuerySyntaxError naming the parameter."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise QuerySyntaxError(f"{name} must be a date like 2024-05-31, not {value!r}") from None


def _pos(n: Node) -> int:
    return n.pos if isinstance(n, Clause) else 0


def _positive(node: BoolQuery) -> Iterator[Clause]:
    for n in node.should + node.must:
        if isinstance(n, Clause):
            yield n
        else:
            yield from _positive(n)


def _key(n: Node) -> tuple[Any, ...]:
    if isinstance(n, Clause):
        return ("c", n.text.casefold(), n.field, n.phrase)
    return ("b", tuple(map(_key, n.should)), tuple(map(_key, n.must)), tuple(map(_key, n.must_not)))


def _collapse_repeats(b: BoolQuery) -> None:
    """Drop repeated clauses (same text up to case, field and kind) from each list, recursively."""
    for nodes in (b.should, b.must, b.must_not):
        seen: set[tuple[Any, ...]] = set()
        kept: list[Node] = []
        for n in nodes:
            if isinstance(n, BoolQuery):
                _collapse_repeats(n)
            k = _key(n)
            if k not in seen:
                seen.add(k)
                kept.append(n)
        nodes[:] = kept


def _is_stop(n: Node) -> bool:
    return isinstance(n, Clause) and n.field is None and not n.phrase and n.text.casefold() in STOP_WORDS


def _without_stop_words(b: BoolQuery) -> BoolQuery:
    """A copy whose ranked ORs keep their stop words only when they have nothing else."""

    def inner(n: Node) -> Node:
        return _without_stop_words(n) if isinstance(n, BoolQuery) else n

    should = [inner(n) for n in b.should]
    if any(not _is_stop(n) for n in should):
        should = [n for n in should if not _is_stop(n)]
    return BoolQuery(should=should, must=[inner(n) for n in b.must], must_not=[inner(n) for n in b.must_not])


EMPTY = parse("")
