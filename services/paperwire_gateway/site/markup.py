"""What the pages show of a value from the index: escaped text, search highlights with only their marks kept,
links that can only go to http(s), a paper's one-line summary, and the words for numbers, dates and event types.

Templates autoescape every value; the helpers here are the only places that build markup from index data, and
each escapes what it is given before adding its own tags.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from markupsafe import Markup, escape

_OPEN, _CLOSE = "&lt;em&gt;", "&lt;/em&gt;"
_MARKS = re.compile(f"({re.escape(_OPEN)}|{re.escape(_CLOSE)})")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")
SUMMARY_CHARS = 240

# How an event type reads in a score breakdown ("prior" is the freshness bonus every new paper starts with).
ETYPE_WORDS = {
    "upvote": ("upvote", "upvotes"),
    "view": ("view", "views"),
    "star": ("star", "stars"),
    "download": ("download", "downloads"),
    "mention": ("mention", "mentions"),
    "comment": ("comment", "comments"),
    "prior": ("new-paper bonus", "new-paper bonus"),
}


def highlight(fragment: str) -> Markup:
    """A search engine's fragment with `<em>` around matches: everything escaped, then only balanced
    `<mark>` pairs put back where the marks were (a literal "<em>" in a title can't open an element)."""
    out: list[str] = []
    open_ = False
    for part in _MARKS.split(str(escape(fragment))):
        if part == _OPEN:
            if not open_:
                out.append("<mark>")
                open_ = True
        elif part == _CLOSE:
            if open_:
                out.append("</mark>")
                open_ = False
        else:
            out.append(part)
    if open_:
        out.append("</mark>")
    return Markup("".join(out))


def safe_url(url: Any) -> str | None:
    """`url` when it is an absolute http(s) URL (javascript:, data: and relative URLs never become links)."""
    if not isinstance(url, str) or len(url) > 2000:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


def host_of(url: str) -> str:
    host = urlsplit(url).hostname or url
    return host.removeprefix("www.")


def arxiv_url(arxiv_id: Any) -> str | None:
    return f"https://arxiv.org/abs/{quote(arxiv_id, safe='/.')}" if isinstance(arxiv_id, str) and arxiv_id else None


def doi_url(doi: Any) -> str | None:
    return f"https://doi.org/{quote(doi, safe='/.()-_;:')}" if isinstance(doi, str) and doi else None


def summary_of(item: Mapping[str, Any]) -> str:
    """One line: the extractive summary when the paper has one, else the abstract's first sentence, cut at a word."""
    text = item.get("summary") or ""
    if not text:
        abstract = str(item.get("abstract") or "").strip()
        text = _SENTENCE.split(abstract, maxsplit=1)[0] if abstract else ""
    text = " ".join(str(text).split())
    if len(text) <= SUMMARY_CHARS:
        return text
    return text[:SUMMARY_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def topic_chips(item: Mapping[str, Any], labels: Mapping[str, str]) -> list[tuple[str, str]]:
    """(topic id, label) for each topic the paper carries: its own label list, else the current topic's label."""
    ids = [t for t in item.get("topics") or [] if isinstance(t, str)]
    own = [str(x) for x in item.get("topic_labels") or []]
    return [(t, own[i] if i < len(own) and own[i] else labels.get(t, t)) for i, t in enumerate(ids)]


def score(value: Any) -> str:
    v = float(value or 0.0)
    return f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def count_words(etype: str, n: int) -> str:
    one, many = ETYPE_WORDS.get(etype, (etype, etype + "s"))
    if etype == "prior":
        return one
    return f"{n:,} {one if n == 1 else many}"


def etype_name(etype: str) -> str:
    """What an event type is called in a legend ("upvotes", "new-paper bonus")."""
    return ETYPE_WORDS.get(etype, (etype, etype + "s"))[1]


def made_of(breakdown: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A score's parts, largest first: {etype, words, count, score, share (0..1)}; zero-score parts left out."""
    total = sum(float(b.get("score") or 0.0) for b in breakdown.values()) or 1.0
    parts = [
        {
            "etype": t,
            "words": count_words(t, int(b.get("count") or 0)),
            "count": int(b.get("count") or 0),
            "score": float(b.get("score") or 0.0),
            "share": float(b.get("score") or 0.0) / total,
        }
        for t, b in breakdown.items()
        if float(b.get("score") or 0.0) > 0
    ]
    return sorted(parts, key=lambda p: (-p["score"], p["etype"]))


def date_of(value: Any) -> str:
    """An ISO date or datetime as YYYY-MM-DD ("" when absent)."""
    return str(value)[:10] if value else ""


def epoch_date(value: Any) -> str:
    if not isinstance(value, int | float):
        return ""
    return dt.datetime.fromtimestamp(float(value), dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def authors_line(authors: Iterable[Any], limit: int = 6) -> str:
    names = [str(a) for a in authors or []]
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f" and {len(names) - limit} more"
