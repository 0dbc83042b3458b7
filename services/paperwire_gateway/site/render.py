"""Rendering pages: the Jinja2 environment (autoescape on for every template), the stylesheet and script served
by the gateway under content-hashed names, and the security headers every page carries.

The Content-Security-Policy allows scripts, styles, images and fetches from this origin only: no inline script
or style (charts are SVG coloured by stylesheet classes), no framing, forms post only here. Pages never hold a
key or a secret: they are rendered from the same read services as the public JSON API.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from fastapi.responses import HTMLResponse, Response

from . import charts, markup
from .links import paper_url, topic_url, url

HERE = Path(__file__).parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


@dataclass(frozen=True)
class Asset:
    name: str  # as served: site.<hash>.css
    body: bytes
    media_type: str


def _asset(file: str, media_type: str) -> Asset:
    body = (HERE / "static" / file).read_bytes()
    stem, _, ext = file.rpartition(".")
    return Asset(f"{stem}.{hashlib.sha256(body).hexdigest()[:10]}.{ext}", body, media_type)


CSS = _asset("site.css", "text/css; charset=utf-8")
JS = _asset("site.js", "text/javascript; charset=utf-8")
ICON = _asset("icon.svg", "image/svg+xml")
ASSETS = {a.name: a for a in (CSS, JS, ICON)}
ASSET_PREFIX = "/assets/"

env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
env.globals.update(
    css_url=ASSET_PREFIX + CSS.name,
    js_url=ASSET_PREFIX + JS.name,
    icon_url=ASSET_PREFIX + ICON.name,
    url=url,
    paper_url=paper_url,
    topic_url=topic_url,
    safe_url=markup.safe_url,
    arxiv_url=markup.arxiv_url,
    doi_url=markup.doi_url,
    topic_chips=markup.topic_chips,
    made_of=markup.made_of,
    arrivals_chart=charts.arrivals,
    parts_chart=charts.score_parts,
)
env.filters.update(
    highlight=markup.highlight,
    summary=markup.summary_of,
    score=markup.score,
    date=markup.date_of,
    epoch=markup.epoch_date,
    authors=markup.authors_line,
    host=markup.host_of,
    etype=markup.etype_name,
)


def page(template: str, status: int = 200, *, headers: Mapping[str, str] | None = None, **context: Any) -> HTMLResponse:
    """A rendered page with the security headers (and `headers` over them)."""
    html = env.get_template(template).render(**context)
    extra = {k.lower(): v for k, v in (headers or {}).items()}
    return HTMLResponse(html, status_code=status, headers={**PAGE_HEADERS, **extra})


def error(status: int, title: str, detail: str, **context: Any) -> HTMLResponse:
    """An error page: what went wrong and where to go from here."""
    context.setdefault("nav", "")
    return page("error.html.j2", status, title=title, detail=detail, code=status, **context)


def asset(name: str) -> Response:
    got = ASSETS.get(name)
    if got is None:
        return Response("no such asset", status_code=404, media_type="text/plain")
    # Names carry the content hash: a new stylesheet is a new URL, so browsers may keep each one for good.
    return Response(
        got.body,
        media_type=got.media_type,
        headers={"cache-control": "public, max-age=31536000, immutable", "x-content-type-options": "nosniff"},
    )
