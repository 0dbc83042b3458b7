"""Atom 1.0 (RFC 4287) documents of paper feeds, written by feedgen.

Every feed and entry carries the elements RFC 4287 requires: `id` (a permanent URN, the same on every
deployment, so readers recognise a paper they have seen), `title`, `updated`, and a link (the feed to itself, an
entry to the paper's page on the site). The feed's author is Paperwire, so entries without authors stay valid.
An entry links to its paper's page (`rel=alternate`), its arXiv abstract and PDF, DOI and code (`rel=related`);
its summary is the paper's extractive `summary` when the enricher made one, else the abstract's first sentences.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from feedgen.ext.base import BaseEntryExtension
from feedgen.feed import FeedGenerator
from lxml import etree

ATOM = "application/atom+xml"
MAX_AUTHORS = 50
SUMMARY_SENTENCES = 3
SUMMARY_MAX_CHARS = 600
# XML 1.0 forbids most control characters (lxml refuses them): a title with one must not make a 500.
_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")


@dataclass(frozen=True)
class FeedMeta:
    id: str  # a URN: urn:paperwire:feed:...
    title: str
    self_url: str  # the feed's own URL (rel=self)
    site_url: str  # the page it mirrors (rel=alternate)
    subtitle: str | None = None


def xml_text(value: Any) -> str:
    """A value as text XML 1.0 can carry."""
    return _NOT_XML.sub("", str(value))


def paper_urn(paper_id: str) -> str:
    return "urn:paperwire:paper:" + quote(paper_id, safe=":")


def paper_page(public_url: str, paper_id: str) -> str:
    return f"{public_url}/papers/{quote(paper_id, safe=':')}"


def first_sentences(text: str, n: int = SUMMARY_SENTENCES, max_chars: int = SUMMARY_MAX_CHARS) -> str:
    """The first `n` sentences of `text`, cut at a word boundary (with an ellipsis) beyond `max_chars`."""
    flat = " ".join(text.split())
    out = " ".join(_SENTENCE_END.split(flat)[:n])
    if len(out) > max_chars:
        out = out[:max_chars].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return out


def entry_summary(item: dict[str, Any]) -> str:
    """The paper's extractive summary (the enricher's `summary`), else the abstract's first sentences."""
    summary = item.get("summary")
    if isinstance(summary, list):
        summary = " ".join(str(s) for s in summary)
    if isinstance(summary, str) and summary.strip():
        return " ".join(summary.split())
    return first_sentences(str(item.get("abstract") or ""))


def _instant(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(epoch), dt.UTC)


def _published(value: Any) -> dt.datetime | None:
    """published_at (an ISO date or datetime) as an aware datetime; None when absent or not a full date."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        got = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return got if got.tzinfo is not None else got.replace(tzinfo=dt.UTC)


def entry_updated(item: dict[str, Any], fallback: float) -> dt.datetime:
    """When the paper's current version arrived (ingested_at), else its publication, else `fallback`."""
    t = item.get("ingested_at")
    if isinstance(t, int | float) and not isinstance(t, bool) and 0 <= t < 253_402_300_800:  # before year 10000
        return _instant(t)
    return _published(item.get("published_at")) or _instant(fallback)


class _RelatedLinks(BaseEntryExtension):
    """Writes an entry's rel=related links (with their type and title) into its Atom element."""

    def __init__(self) -> None:
        self.links: list[dict[str, str]] = []

    def extend_atom(self, entry: Any) -> Any:
        for attrs in self.links:
            etree.SubElement(entry, "link", rel="related", **attrs)
        return entry


def _related(item: dict[str, Any]) -> Iterable[dict[str, str]]:
    """The arXiv abstract and PDF, the DOI and the code repository of a paper (href, type, title)."""
    arxiv = item.get("arxiv_id")
    if arxiv:
        a = quote(str(arxiv), safe="/.")
        yield {"href": f"https://arxiv.org/abs/{a}", "type": "text/html", "title": "arXiv"}
        yield {"href": f"https://arxiv.org/pdf/{a}", "type": "application/pdf", "title": "PDF"}
    doi = item.get("doi")
    if doi:
        yield {"href": f"https://doi.org/{quote(str(doi), safe='/.()')}", "type": "text/html", "title": "DOI"}
    code = item.get("code_url")
    if isinstance(code, str) and code.startswith(("https://", "http://")):
        yield {"href": xml_text(code), "type": "text/html", "title": "code"}


def render(meta: FeedMeta, items: Sequence[dict[str, Any]], updated: float, public_url: str) -> bytes:
    """The Atom document: `items` in order (feed items: id, title, abstract, authors, ...), `updated` the
    instant the feed last changed."""
    fg = FeedGenerator()
    fg.id(meta.id)
    fg.title(xml_text(meta.title).strip() or meta.id)
    fg.updated(_instant(updated))
    fg.author({"name": "Paperwire", "uri": public_url + "/"})
    fg.link(href=meta.self_url, rel="self", type="application/atom+xml")
    fg.link(href=meta.site_url, rel="alternate", type="text/html")
    if meta.subtitle:
        fg.subtitle(xml_text(meta.subtitle))
    for item in items:
        fe = fg.add_entry(order="append")
        fe.id(paper_urn(item["id"]))
        fe.title(xml_text(item.get("title") or "").strip() or xml_text(item["id"]))
        fe.updated(entry_updated(item, updated))
        published = _published(item.get("published_at"))
        if published is not None:
            fe.published(published)
        # feedgen 1.0 drops rel/type/title of entry links (a shadowed variable), and a link without rel is an
        # alternate: the page is the one link given to feedgen, the related ones are written by _RelatedLinks.
        fe.link(href=paper_page(public_url, item["id"]), rel="alternate")
        fe.register_extension("related_links", _RelatedLinks, atom=True, rss=False)
        fe.related_links.links = list(_related(item))
        authors = [n for n in (xml_text(a).strip() for a in (item.get("authors") or [])[:MAX_AUTHORS]) if n]
        if authors:
            fe.author([{"name": a} for a in authors])
        summary = xml_text(entry_summary(item)).strip()
        if summary:
            fe.summary(summary)
        for label in item.get("topic_labels") or []:
            term = xml_text(label).strip()
            if term:
                fe.category(term=term)
    out: bytes = fg.atom_str(pretty=False)
    return out
