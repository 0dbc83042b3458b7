"""The query language's syntax tree, tokenizer and recursive-descent parser (query.py has the grammar)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Literal, TypeAlias

_OPERATORS = ("AND", "OR", "NOT")
Occur = Literal["default", "must", "must_not"]

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
YES, NO = ("yes", "true", "1"), ("no", "false", "0")


class QuerySyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Clause:
    """A leaf: one word or phrase, on title + abstract (field None) or on one field."""

    text: str
    field: str | None = None
    phrase: bool = False
    pos: int = dc_field(default=0, compare=False)  # 1-based column in the query: keeps the user's word order

    @property
    def yes(self) -> bool:
        """For code:yes|no."""
        return self.text.lower() in YES


@dataclass
class BoolQuery:
    """Matches when every `must` matches, no `must_not` matches and, if there is no `must`, at least one
    `should` matches; `should` clauses that match add to the score (like an Elasticsearch bool query)."""

    should: list[Node] = dc_field(default_factory=list)
    must: list[Node] = dc_field(default_factory=list)
    must_not: list[Node] = dc_field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.should or self.must or self.must_not)

    @property
    def min_should(self) -> int:
        return 1 if self.should and not self.must else 0


Node: TypeAlias = Clause | BoolQuery


@dataclass(frozen=True)
class Token:
    kind: Literal["(", ")", "op", "term"]
    pos: int  # 1-based column, for messages
    text: str = ""
    sign: str = ""
    field: str | None = None
    phrase: bool = False


def tokens(q: str) -> list[Token]:
    out: list[Token] = []
    i, n = 0, len(q)
    while i < n:
        c = q[i]
        if c.isspace():
            i += 1
            continue
        if c in "()":
            out.append(Token(c, i + 1))  # type: ignore[arg-type]
            i += 1
            continue
        start, sign = i, ""
        if c in "+-":
            sign, i = c, i + 1
            if i >= n or q[i].isspace() or q[i] == ")":
                continue  # a lone sign ("covid - 19") is punctuation, not an operator
            if q[i] == "(":
                out.append(Token("op", start + 1, sign, sign=sign))  # "-(a b)": a signed group
                continue
        if q[i] == '"':
            end = q.find('"', i + 1)
            if end < 0:
                raise QuerySyntaxError(f'unbalanced quote at character {i + 1}: every " needs a closing "')
            out.append(Token("term", start + 1, q[i + 1 : end].strip(), sign=sign, phrase=True))
            i = end + 1
            continue
        j = i
        while j < n and not q[j].isspace() and q[j] not in '()"':
            j += 1
        word = q[i:j]
        fname, sep, value = word.partition(":")
        if (
            sep
            and fname
            and fname.replace("_", "").isalpha()
            and not (not value and fname.lower() not in FIELDS and (j >= n or q[j].isspace()))
        ):
            # (A name and a colon before a space is a title's "Name: subtitle", not a field.)
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
            if field_name == "has_code" and value.lower() not in YES + NO:
                raise QuerySyntaxError(f"code: takes yes or no, not {value!r}")
            out.append(Token("term", start + 1, value, sign=sign, field=field_name, phrase=phrase))
        elif word in _OPERATORS and not sign:
            out.append(Token("op", start + 1, word))
        else:
            out.append(Token("term", start + 1, word, sign=sign))
        i = j
    return out


class Parser:
    def __init__(self, toks: list[Token]) -> None:
        self.toks, self.i, self.depth = toks, 0, 0

    def peek(self) -> Token | None:
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
            if occur == "default" and isinstance(node, Clause) and (node.field or node.phrase):
                # A fielded term narrows the search (like arXiv's ti:/au:) and quotes ask for that exact phrase:
                # both are required unless negated, in every mode.
                occur = "must"
            add_node(out, node, occur)
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
                add_node(out, BoolQuery(must_not=[node]) if occur == "must_not" else node, "default")
        return collapse(out), "default"

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
                add_node(out, node, "must_not" if occur == "must_not" else "must")
        return collapse(out), "default"

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
            return collapse(group), occur
        if t.kind == ")":
            raise QuerySyntaxError(f"unbalanced parentheses: ')' at character {t.pos} has no '('")
        self.i += 1
        if not t.text or not any(ch.isalnum() for ch in t.text):
            return None, occur  # punctuation only: every analyzer drops it
        return Clause(t.text, t.field, t.phrase, t.pos), occur


def add_node(out: BoolQuery, node: Node, occur: Occur) -> None:
    """Append, flattening `a OR (b OR c)` and `a AND (b AND c)`: same matches, same ranking, smaller trees."""
    if isinstance(node, BoolQuery) and occur == "default" and not node.must and not node.must_not:
        out.should.extend(node.should)
    elif isinstance(node, BoolQuery) and occur == "must" and not node.should:
        out.must.extend(node.must)
        out.must_not.extend(node.must_not)
    else:
        {"must": out.must, "must_not": out.must_not}.get(occur, out.should).append(node)


def collapse(b: BoolQuery) -> Node | None:
    """A group of one ranked clause is that clause; an empty group is nothing."""
    if b.empty:
        return None
    if len(b.should) == 1 and not b.must and not b.must_not:
        return b.should[0]
    return b
