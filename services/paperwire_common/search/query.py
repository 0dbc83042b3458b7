"""Parse the user's query string into a small AST that every backend translates.

Grammar (v2), loosest binding first:

    query    := item*                      juxtaposition: a ranked OR (see below)
    item     := and_expr ("OR" and_expr)*
    and_expr := unary ("AND" unary)*
    unary    := "NOT" unary | ["+" | "-"] atom
    atom     := "(" item* ")" | [field ":"] (word | "phrase")

Juxtaposed bare terms are a ranked OR: at least one must match and more matches rank higher. Fielded terms
and +terms are required, -terms and NOT exclude; groups and AND/OR expressions are ranked like bare terms
unless signed. AND binds tighter than juxtaposition: `a b AND c` is `a OR (b AND c)`, ranked.
Operators are upper-case only ("and"/"or"/"not" are words). Errors are QuerySyntaxError with a message
meant for the user (HTTP 400).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, TypeAlias

FIELDS = {
    "title": "title",
    "abstract": "abstract",
    "author": "authors",
    "topic": "topics",
    "method": "methods",
    "dataset": "datasets",
    "code": "has_code",
    "source": "source",
}
TEXT_FIELDS = (None, "title", "abstract")  # what a semantic encoder should see (None = free text)
MAX_QUERY_CHARS = 1000
MAX_DEPTH = 10
_YES, _NO = ("yes", "true", "1"), ("no", "false", "0")
_OPERATORS = ("AND", "OR", "NOT")


class QuerySyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Clause:
    """A leaf: one word or phrase, on title + abstract (field None) or on one field."""

    text: str
    field: str | None = None
    phrase: bool = False

    @property
    def yes(self) -> bool:
        """For code:yes|no."""
        return self.text.lower() in _YES


@dataclass
class BoolQuery:
    """Matches when every `must` matches, no `must_not` matches and, if there is no `must`, at least one
    `should` matches; `should` clauses that match add to the score (like an Elasticsearch bool query)."""

    should: list[Node] = field(default_factory=list)
    must: list[Node] = field(default_factory=list)
    must_not: list[Node] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.should or self.must or self.must_not)

    @property
    def min_should(self) -> int:
        return 1 if self.should and not self.must else 0

    def positive_text(self) -> str:
        """The words a semantic encoder should see (no exclusions, no keyword filters)."""
        return " ".join(c.text for c in self.positive_clauses() if c.field in TEXT_FIELDS)

    def positive_clauses(self) -> Iterator[Clause]:
        for node in self.should + self.must:
            if isinstance(node, Clause):
                yield node
            else:
                yield from node.positive_clauses()


Node: TypeAlias = Clause | BoolQuery
ParsedQuery = BoolQuery  # the root of a parse (v1 name)

Occur = Literal["default", "must", "must_not"]


@dataclass(frozen=True)
class _Tok:
    kind: Literal["(", ")", "op", "term"]
    pos: int  # 1-based column, for messages
    text: str = ""
    sign: str = ""
    field: str | None = None
    phrase: bool = False


def _tokens(q: str) -> list[_Tok]:
    out: list[_Tok] = []
    i, n = 0, len(q)
    while i < n:
        c = q[i]
        if c.isspace():
            i += 1
            continue
        if c in "()":
            out.append(_Tok(c, i + 1))  # type: ignore[arg-type]
            i += 1
            continue
        start, sign = i, ""
        if c in "+-":
            sign, i = c, i + 1
            if i >= n or q[i].isspace() or q[i] == ")":
                continue  # a lone sign ("covid - 19") is punctuation, not an operator
            if q[i] == "(":
                out.append(_Tok("op", start + 1, sign, sign=sign))  # "-(a b)": a signed group
                continue
        if q[i] == '"':
            end = q.find('"', i + 1)
            if end < 0:
                raise QuerySyntaxError(f'unbalanced quote at character {i + 1}: every " needs a closing "')
            out.append(_Tok("term", start + 1, q[i + 1 : end].strip(), sign=sign, phrase=True))
            i = end + 1
            continue
        j = i
        while j < n and not q[j].isspace() and q[j] not in '()"':
            j += 1
        word = q[i:j]
        fname, sep, value = word.partition(":")
        if sep and fname and fname.replace("_", "").isalpha():
            if fname.lower() not in FIELDS:
                known = ", ".join(f"{f}:" for f in sorted(FIELDS))
                raise QuerySyntaxError(f"unknown field {fname!r}; known fields: {known}")
            field_name = FIELDS[fname.lower()]
            if not value and j < n and q[j] == '"':
                end = q.find('"', j + 1)
                if end < 0:
                    raise QuerySyntaxError(f'unbalanced quote at character {j + 1}: every " needs a closing "')
                value, phrase, j = q[j + 1 : end].strip(), True, end + 1
            elif not value:
                raise QuerySyntaxError(
                    f'{fname}: needs a value right after the colon, like {fname}:word or {fname}:"a phrase"'
                )
            else:
                phrase = False
            if field_name == "has_code" and value.lower() not in _YES + _NO:
                raise QuerySyntaxError(f"code: takes yes or no, not {value!r}")
            out.append(_Tok("term", start + 1, value, sign=sign, field=field_name, phrase=phrase))
        elif word in _OPERATORS and not sign:
            out.append(_Tok("op", start + 1, word))
        else:
            out.append(_Tok("term", start + 1, word, sign=sign))
        i = j
    return out


class _Parser:
    def __init__(self, toks: list[_Tok]) -> None:
        self.toks, self.i, self.depth = toks, 0, 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def is_op(self, *names: str) -> bool:
        t = self.peek()
        return t is not None and t.kind == "op" and t.text in names

    def sequence(self) -> BoolQuery:
        """item* up to ')' or the end, as a ranked OR."""
        out = BoolQuery()
        while (t := self.peek()) is not None and t.kind != ")":
            node, occur = self.item()
            if node is None:
                continue
            if occur == "default" and isinstance(node, Clause) and node.field:
                occur = "must"  # a fielded term narrows the search (like arXiv's ti:/au:): required unless negated
            _add(out, node, occur)
        return out

    def item(self) -> tuple[Node | None, Occur]:
        first = self.and_expr()
        if not self.is_op("OR"):
            return first
        operands = [first]
        while self.is_op("OR"):
            self.i += 1
            self.expect_operand("OR")
            operands.append(self.and_expr())
        out = BoolQuery()
        for node, occur in operands:
            if node is not None:
                _add(out, BoolQuery(must_not=[node]) if occur == "must_not" else node, "default")
        return _collapse(out), "default"

    def and_expr(self) -> tuple[Node | None, Occur]:
        first = self.unary()
        if not self.is_op("AND"):
            return first
        operands = [first]
        while self.is_op("AND"):
            self.i += 1
            self.expect_operand("AND")
            operands.append(self.unary())
        out = BoolQuery()
        for node, occur in operands:
            if node is not None:
                _add(out, node, "must_not" if occur == "must_not" else "must")
        return _collapse(out), "default"

    def expect_operand(self, op: str) -> None:
        t = self.peek()
        if t is None or t.kind == ")" or (t.kind == "op" and t.text in ("AND", "OR")):
            raise QuerySyntaxError(f"dangling operator: {op} needs a term after it")

    def unary(self) -> tuple[Node | None, Occur]:
        t = self.peek()
        if t is None:
            raise QuerySyntaxError("unexpected end of the query")
        if t.kind == "op" and t.text == "NOT":
            self.i += 1
            self.expect_operand("NOT")
            node, inner = self.unary()
            return node, "must" if inner == "must_not" else "must_not"  # NOT NOT x, NOT -x
        if t.kind == "op" and t.text in ("AND", "OR"):
            raise QuerySyntaxError(f"dangling operator: {t.text} needs a term before it (character {t.pos})")
        sign = ""
        if t.kind == "op":  # a sign in front of a group
            sign, self.i = t.sign, self.i + 1
            t = self.toks[self.i]
        sign = sign or t.sign
        occur: Occur = "must" if sign == "+" else "must_not" if sign == "-" else "default"
        if t.kind == "(":
            self.i += 1
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise QuerySyntaxError(f"parentheses are nested deeper than {MAX_DEPTH} levels")
            if (close := self.peek()) is not None and close.kind == ")":
                raise QuerySyntaxError(f"empty parentheses at character {t.pos}")
            group = self.sequence()
            if self.peek() is None:
                raise QuerySyntaxError(f"unbalanced parentheses: the '(' at character {t.pos} is never closed")
            self.i += 1
            self.depth -= 1
            return _collapse(group), occur
        if t.kind == ")":
            raise QuerySyntaxError(f"unbalanced parentheses: ')' at character {t.pos} has no '('")
        self.i += 1
        if not t.text or not any(ch.isalnum() for ch in t.text):
            return None, occur  # punctuation only: every analyzer drops it
        return Clause(t.text, t.field, t.phrase), occur


def _add(out: BoolQuery, node: Node, occur: Occur) -> None:
    """Append, flattening `a OR (b OR c)` and `a AND (b AND c)`: same matches, same ranking, smaller trees."""
    if isinstance(node, BoolQuery) and occur == "default" and not node.must and not node.must_not:
        out.should.extend(node.should)
    elif isinstance(node, BoolQuery) and occur == "must" and not node.should:
        out.must.extend(node.must)
        out.must_not.extend(node.must_not)
    else:
        {"must": out.must, "must_not": out.must_not}.get(occur, out.should).append(node)


def _collapse(b: BoolQuery) -> Node | None:
    """A group of one ranked clause is that clause; an empty group is nothing."""
    if b.empty:
        return None
    if len(b.should) == 1 and not b.must and not b.must_not:
        return b.should[0]
    return b


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def parse(q: str) -> ParsedQuery:
    if len(q) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(f"query is {len(q)} characters long; the limit is {MAX_QUERY_CHARS}")
    if q.count('"') % 2:
        raise QuerySyntaxError('unbalanced quote: every " needs a closing "')
    if _CONTROL.search(q):
        raise QuerySyntaxError("the query contains a control character (such as NUL); remove it")
    p = _Parser(_tokens(q))
    root = p.sequence()
    if (t := p.peek()) is not None:
        raise QuerySyntaxError(f"unbalanced parentheses: ')' at character {t.pos} has no '('")
    # `a AND b` alone is its own root rather than a one-clause ranked OR around it.
    if len(root.should) == 1 and not root.must and not root.must_not and isinstance(root.should[0], BoolQuery):
        return root.should[0]
    return root


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
