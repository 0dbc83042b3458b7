"""The search page's parameters (read once, checked with messages meant for a reader) and what it shows of a
result page: facets as filter links with counts, the active filters with links that remove them, and paging."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from paperwire_common.search.port import Filters
from paperwire_common.search.service import MODES, Mode

from .links import url

PAGE_SIZE = 20
FACET_TITLES = {"topics": "Topic", "year": "Year", "has_code": "Code", "source": "Source"}
SOURCE_WORDS = {"arxiv-atom": "arXiv API", "oai-pmh": "arXiv OAI-PMH", "daily-papers": "Daily papers"}


class BadParams(ValueError):
    """A page parameter a reader could have mistyped: the message says which and what it takes."""


@dataclass(frozen=True)
class SearchParams:
    q: str = ""
    mode: Mode = "hybrid"
    topic: str | None = None
    has_code: bool | None = None
    source: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    cursor: str | None = None
    page: int = 1

    @classmethod
    def read(cls, query: Mapping[str, str]) -> SearchParams:
        def text(name: str, limit: int) -> str | None:
            v = (query.get(name) or "").strip()
            if len(v) > limit:
                raise BadParams(f"{name} is {len(v)} characters long; the limit is {limit}")
            return v or None

        mode = query.get("mode") or "hybrid"
        if mode not in MODES:
            raise BadParams(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        code = (query.get("has_code") or "").lower()
        if code not in ("", "true", "false"):
            raise BadParams(f"has_code must be true or false, not {code!r}")
        dates = []
        for name in ("from", "to"):
            d = text(name, 10)
            if d is not None:
                try:
                    dt.date.fromisoformat(d)
                except ValueError:
                    raise BadParams(f"{name} must be a date like 2024-05-31, not {d!r}") from None
            dates.append(d)
        if dates[0] and dates[1] and dates[0] > dates[1]:
            raise BadParams(f"from ({dates[0]}) is after to ({dates[1]})")
        page = query.get("page") or "1"
        if not page.isdigit() or not 1 <= int(page) <= 100_000:
            raise BadParams(f"page must be a number from 1, not {page!r}")
        return cls(
            q=text("q", 1000) or "",
            mode=mode,
            topic=text("topic", 200),
            has_code=None if not code else code == "true",
            source=text("source", 50),
            date_from=dates[0],
            date_to=dates[1],
            cursor=text("cursor", 4000),
            page=int(page) if query.get("cursor") else 1,
        )

    @property
    def filters(self) -> Filters:
        return Filters(self.topic, self.has_code, self.source, self.date_from, self.date_to)

    def link(self, **changes: Any) -> str:
        """This search with `changes`; a new filter or mode starts again at the first page."""
        p = replace(self, **changes)
        if "cursor" not in changes:
            p = replace(p, cursor=None, page=1)
        return url(
            "/search",
            {
                "q": p.q,
                "mode": None if p.mode == "hybrid" else p.mode,
                "topic": p.topic,
                "has_code": p.has_code,
                "source": p.source,
                "from": p.date_from,
                "to": p.date_to,
                "cursor": p.cursor,
                "page": p.page if p.cursor else None,
            },
        )


def _facet_label(name: str, value: Any, labels: Mapping[str, str]) -> str:
    if name == "topics":
        return labels.get(str(value), str(value))
    if name == "has_code":
        return "with code" if value is True or value == "true" else "without code"
    if name == "source":
        return SOURCE_WORDS.get(str(value), str(value))
    return str(value)


def _facet_link(p: SearchParams, name: str, value: Any) -> tuple[str, bool]:
    """(href, active) of one facet value: a link that sets the filter, or removes it when it is set."""
    if name == "topics":
        active = p.topic == str(value)
        return p.link(topic=None if active else str(value)), active
    if name == "has_code":
        want = value is True or value == "true"
        active = p.has_code is want
        return p.link(has_code=None if active else want), active
    if name == "source":
        active = p.source == str(value)
        return p.link(source=None if active else str(value)), active
    year = str(value)
    first, last = f"{year}-01-01", f"{year}-12-31"
    active = (p.date_from, p.date_to) == (first, last)
    return (p.link(date_from=None, date_to=None) if active else p.link(date_from=first, date_to=last)), active


def facet_groups(
    facets: Mapping[str, list[dict[str, Any]]], p: SearchParams, labels: Mapping[str, str]
) -> list[dict[str, Any]]:
    groups = []
    for name in FACET_TITLES:
        values = facets.get(name) or []
        if name == "year":
            values = sorted(values, key=lambda v: str(v["value"]), reverse=True)
        shown = []
        for v in values:
            href, active = _facet_link(p, name, v["value"])
            shown.append(
                {"label": _facet_label(name, v["value"], labels), "count": v["count"], "href": href, "active": active}
            )
        if shown:
            groups.append({"name": name, "title": FACET_TITLES[name], "values": shown})
    return groups


def active_filters(p: SearchParams, labels: Mapping[str, str]) -> list[dict[str, str]]:
    """Each filter in force with the link that drops it."""
    out = []
    if p.topic:
        out.append({"label": f"topic: {labels.get(p.topic, p.topic)}", "href": p.link(topic=None)})
    if p.has_code is not None:
        out.append({"label": "with code" if p.has_code else "without code", "href": p.link(has_code=None)})
    if p.source:
        out.append({"label": f"source: {SOURCE_WORDS.get(p.source, p.source)}", "href": p.link(source=None)})
    if p.date_from or p.date_to:
        span = f"{p.date_from or '…'} – {p.date_to or '…'}"
        out.append({"label": f"published {span}", "href": p.link(date_from=None, date_to=None)})
    return out
