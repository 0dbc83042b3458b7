"""Plain-text dumps of a trending-papers page: a header, then a title line and an abstract line per paper.

Pairing is driven by a title/abstract heuristic rather than by line parity, so one missing line costs
one paper instead of shifting every pair after it:

* a title followed by another title (or by the end of input) yields
  ``Rejected("line N", "title without abstract")`` for the first one (N = its line);
* an abstract-looking line where a title is expected yields
  ``Rejected("line N", "abstract without title")``.

Blank lines anywhere are ignored. Positions are 1-based line numbers of the input.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from paperwire_ingestor.parsers._common import collapse, iter_lines, to_text, urls_in
from paperwire_ingestor.records import FormatError, ParseResult, Rejected, SourceRecord

# The page header ("Get trending papers in your email inbox once a day!") and the "Subscribe" button
# label, which the page's text extraction glues onto the first title ("SubscribeAFSD-Physics: ...").
_HEADER = re.compile(r"^get trending papers in your email inbox\b", re.IGNORECASE)
_SUBSCRIBE = re.compile(r"^Subscribe(?![a-z])")
_MARKUP = re.compile(r"^(?:<[?!A-Za-z]|\{.*\}$)")

# Seed data: titles are at most 144 chars / 20 words, abstracts at least 547 chars; the thresholds
# leave wide margins on both sides.
_TITLE_MAX_CHARS = 250
_TITLE_MAX_WORDS = 35
_ABSTRACT_MIN_CHARS = 300
_ABSTRACT_MIN_WORDS = 45


def looks_like_title(line: str) -> bool:
    """Short and not a sentence: titles rarely end with a period, abstracts nearly always do."""
    return len(line) <= _TITLE_MAX_CHARS and len(line.split()) <= _TITLE_MAX_WORDS and not line.endswith(".")


def looks_like_abstract(line: str) -> bool:
    return len(line) > _ABSTRACT_MIN_CHARS or len(line.split()) > _ABSTRACT_MIN_WORDS


def _content_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, stripped line) for non-blank lines, with the page header and button removed."""
    in_header = True
    for number, raw in iter_lines(text):
        line = raw.strip()
        if not line:
            continue
        if in_header:
            if _HEADER.match(line):
                continue
            in_header = False
            if _MARKUP.match(line):
                raise FormatError(f"text: line {number} looks like XML/HTML/JSON, not a title/abstract dump")
            line = _SUBSCRIBE.sub("", line, count=1).strip()
            if not line:
                continue
        yield number, line


def parse(data: bytes | str) -> Iterator[ParseResult]:
    pending: tuple[int, str] | None = None  # a title waiting for its abstract
    for number, line in _content_lines(to_text(data, "text")):
        if pending is None:
            if looks_like_abstract(line):
                yield Rejected(f"line {number}", "abstract without title")
            else:
                pending = (number, line)
            continue
        title_line, title = pending
        if looks_like_title(line):
            yield Rejected(f"line {title_line}", "title without abstract")
            pending = (number, line)
            continue
        abstract = collapse(line)
        yield SourceRecord(
            title=collapse(title), abstract=abstract, links=urls_in(abstract), position=f"line {title_line}"
        )
        pending = None
    if pending is not None:
        yield Rejected(f"line {pending[0]}", "title without abstract")
