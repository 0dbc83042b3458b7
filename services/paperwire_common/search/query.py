"""Parse the user's query string into a small AST that every backend translates.

Grammar (v1): free terms, "quoted phrases", +required / -excluded terms, and field:value terms.
Free terms rank (at least one must match); fielded terms and +terms are required; -terms exclude.
Errors are raised as QuerySyntaxError with a message meant for the user (HTTP 400).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
MAX_QUERY_CHARS = 1000
_TOKEN = re.compile(r'\s*(?P<sign>[+-]?)(?:(?P<field>[A-Za-z_]+):)?(?:"(?P<phrase>[^"]*)"|(?P<term>[^\s"]+))')


class QuerySyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Clause:
    text: str
    field: str | None = None  # None = title + abstract
    phrase: bool = False


@dataclass
class ParsedQuery:
    should: list[Clause] = field(default_factory=list)
    must: list[Clause] = field(default_factory=list)
    must_not: list[Clause] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.should or self.must or self.must_not)

    def positive_text(self) -> str:
        """The words a semantic encoder should see (no exclusions, no filters)."""
        return " ".join(c.text for c in self.should + self.must if c.field in (None, "title", "abstract"))


def parse(q: str) -> ParsedQuery:
    if len(q) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(f"query is {len(q)} characters long; the limit is {MAX_QUERY_CHARS}")
    if q.count('"') % 2:
        raise QuerySyntaxError('unbalanced quote: every " needs a closing "')
    out = ParsedQuery()
    pos = 0
    q = q.strip()
    while pos < len(q):
        m = _TOKEN.match(q, pos)
        if not m or m.end() == pos:
            raise QuerySyntaxError(f"cannot parse the query at character {pos + 1}: {q[pos : pos + 20]!r}")
        pos = m.end()
        fname = m.group("field")
        if fname is not None:
            if fname.lower() not in FIELDS:
                known = ", ".join(sorted(FIELDS))
                raise QuerySyntaxError(f"unknown field {fname!r}; known fields: {known}")
            fname = FIELDS[fname.lower()]
        text = m.group("phrase") if m.group("phrase") is not None else m.group("term")
        text = text.strip()
        if not text:
            continue
        clause = Clause(text, fname, m.group("phrase") is not None)
        # A fielded term narrows the search (like arXiv's ti:/au:), so it is required unless negated.
        default = out.should if fname is None else out.must
        {"+": out.must, "-": out.must_not}.get(m.group("sign"), default).append(clause)
    return out
