"""URLs the pages link to: a path with query parameters (empty ones left out), a search page with one filter
changed, and the Atom feeds this gateway serves (a feed is only linked once its route exists)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request

_PARAM = re.compile(r"\{[^}]+\}")

# Feed routes (path templates with their parameters as {}) the site links when the app has them.
TRENDING_FEED = "/v1/feeds/trending.atom"
LATEST_FEED = "/v1/feeds/latest.atom"
TOPIC_FEED = "/v1/topics/{}/feed.atom"
SEARCH_FEED = "/v1/feeds/search.atom"


def url(path: str, params: Mapping[str, Any] | None = None, **more: Any) -> str:
    """`path?query` from `params` updated by `more`; None, "" and False-as-absent values are left out."""
    merged = {**(params or {}), **more}
    q = [(k, _text(v)) for k, v in merged.items() if v is not None and v != ""]
    return f"{path}?{urlencode(q)}" if q else path


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def paper_url(paper_id: str) -> str:
    return "/papers/" + quote(paper_id, safe=":/")


def topic_url(topic_id: str) -> str:
    return "/topics/" + quote(topic_id, safe="")


@dataclass(frozen=True)
class Feed:
    title: str
    href: str


def served_routes(request: Request) -> frozenset[str]:
    """Every path of the app's API, parameters as {}: from its OpenAPI document (FastAPI keeps included routers
    nested), read once per app, as routes are fixed once it is built."""
    state = request.app.state
    got: frozenset[str] | None = getattr(state, "site_route_paths", None)
    if got is None:
        got = frozenset(_PARAM.sub("{}", p) for p in request.app.openapi().get("paths", {}))
        state.site_route_paths = got
    return got


def feed(request: Request, route: str, title: str, *, fill: str = "", **params: Any) -> Feed | None:
    """The feed at `route` (its {} filled with `fill`) with `params`, or None while the gateway has no such route."""
    if route not in served_routes(request):
        return None
    path = route.replace("{}", quote(fill, safe="")) if "{}" in route else route
    return Feed(title, url(path, params))
