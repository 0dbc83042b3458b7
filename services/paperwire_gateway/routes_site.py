"""The site: server-rendered pages over the same read services as the JSON API (trending, latest, topics, a
topic, a paper, search), and the stylesheet and script they load. The subscription pages are routes_subscribe.py.

Parameters are read by the pages themselves, so that a mistyped one gets an HTML page that says what is wrong
(the JSON API answers problem+json); every page carries the security headers of site/render.py.
"""

# No `from __future__ import annotations`: FastAPI reads the dependencies from the annotations.

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from paperwire_common.search.port import FACET_FIELDS
from paperwire_common.search.query import QuerySyntaxError
from paperwire_common.search.service import CursorError, NotFound, SemanticUnavailable
from paperwire_common.topics.service import TOPIC_SORTS

from .deps import IndexDep, SearchServiceDep, TopicLabelsDep, TopicServiceDep, TrendServiceDep
from .site import render
from .site.links import LATEST_FEED, SEARCH_FEED, TOPIC_FEED, TRENDING_FEED, Feed, feed, url
from .site.search_view import PAGE_SIZE, BadParams, SearchParams, active_filters, facet_groups

router = APIRouter(include_in_schema=False)

WINDOWS = ("24h", "7d", "30d")
ROWS = 30  # papers on the trending, latest and topic pages
TOPICS_PER_PAGE = 50
SIMILAR = 6
MAX_TOPIC_PAPERS = 1000  # members a topic page ranks before the trend store keeps a ranking per topic


def _feeds(*got: Feed | None) -> list[Feed]:
    return [f for f in got if f is not None]


def _window(request: Request, default: str) -> str:
    w = request.query_params.get("window") or default
    if w not in WINDOWS:
        raise BadParams(f"window must be one of {', '.join(WINDOWS)}, not {w!r}")
    return w


def _bad(exc: BadParams, nav: str) -> HTMLResponse:
    return render.error(422, "That page does not exist", str(exc), nav=nav)


@router.get("/assets/{name}")
async def site_asset(name: str) -> Response:
    return render.asset(name)


@router.get("/", response_class=HTMLResponse)
async def trending_page(request: Request, trends: TrendServiceDep, labels: TopicLabelsDep) -> HTMLResponse:
    try:
        window = _window(request, "24h")
        topic = (request.query_params.get("topic") or "").strip() or None
        if topic and len(topic) > 200:
            raise BadParams("topic is longer than 200 characters")
    except BadParams as e:
        return _bad(e, "trending")
    data = await trends.trending(window, topic, ROWS, parts=True)
    unknown = bool(topic and labels.read_at is not None and topic not in labels.labels)
    return render.page(
        "trending.html.j2",
        404 if unknown else 200,
        nav="trending",
        feeds=_feeds(feed(request, TRENDING_FEED, f"Trending papers ({window})", window=window, topic=topic)),
        window=window,
        windows=WINDOWS,
        topic=topic,
        topic_label=labels.label(topic) if topic else None,
        unknown_topic=unknown,
        topics=labels.largest,
        labels=labels.labels,
        items=data["items"],
        as_of=data["as_of"],
    )


@router.get("/latest", response_class=HTMLResponse)
async def latest_page(request: Request, trends: TrendServiceDep, labels: TopicLabelsDep) -> HTMLResponse:
    items = await trends.latest(ROWS)
    return render.page(
        "latest.html.j2",
        nav="latest",
        feeds=_feeds(feed(request, LATEST_FEED, "Latest papers")),
        items=items,
        labels=labels.labels,
    )


@router.get("/topics", response_class=HTMLResponse)
async def topics_page(request: Request, topics: TopicServiceDep) -> HTMLResponse:
    sort = request.query_params.get("sort") or "size"
    page = request.query_params.get("page") or "1"
    if sort not in TOPIC_SORTS or not page.isdigit() or int(page) < 1:
        why = f"sort must be one of {', '.join(TOPIC_SORTS)}" if sort not in TOPIC_SORTS else "page must be 1 or more"
        return render.error(422, "That page does not exist", why, nav="topics")
    every = await topics.list_topics(size=1_000_000, sort=sort)
    n, pages = int(page), max(1, -(-len(every) // TOPICS_PER_PAGE))
    shown = every[(n - 1) * TOPICS_PER_PAGE : n * TOPICS_PER_PAGE]
    return render.page(
        "topics.html.j2",
        200 if shown or n == 1 else 404,
        nav="topics",
        feeds=_feeds(feed(request, TRENDING_FEED, "Trending papers (24h)", window="24h")),
        topics=shown,
        total=len(every),
        sort=sort,
        sorts=TOPIC_SORTS,
        page=n,
        pages=pages,
        first=(n - 1) * TOPICS_PER_PAGE + 1,
    )


@router.get("/topics/{topic_id}", response_class=HTMLResponse)
async def topic_page(
    request: Request, topic_id: str, topics: TopicServiceDep, trends: TrendServiceDep, labels: TopicLabelsDep
) -> HTMLResponse:
    try:
        window = _window(request, "7d")
    except BadParams as e:
        return _bad(e, "topics")
    if len(topic_id) > 64:
        return render.error(404, "No such topic", "Topic ids are at most 64 characters long.", nav="topics")
    now = trends.clock.now()
    detail, ranked = await asyncio.gather(topics.get_topic(topic_id, 0), trends.ranked(window, topic_id, ROWS, now))
    if detail is None:
        return render.error(
            404, "No such topic", f"There is no topic {topic_id!r} (topics change as papers arrive).", nav="topics"
        )
    if not ranked and detail["size"]:
        # Papers that do not carry their topics yet have no per-topic ranking: rank the members themselves.
        members = await topics.get_topic(topic_id, MAX_TOPIC_PAPERS)
        ids = [p["id"] for p in (members or {}).get("papers", [])]
        ranked = await trends.rank_papers(ids, window, ROWS, now)
    return render.page(
        "topic.html.j2",
        nav="topics",
        feeds=_feeds(feed(request, TOPIC_FEED, f"Topic: {detail['label']}", fill=topic_id)),
        topic=detail,
        window=window,
        windows=WINDOWS,
        items=ranked,
        labels=labels.labels,
        search_href=url("/search", topic=topic_id),
    )


async def _similar(svc: SearchServiceDep, paper_id: str) -> list[dict[str, Any]]:
    try:
        items, _ = await svc.similar(paper_id, SIMILAR)
    except NotFound:
        return []
    return items


@router.get("/papers/{paper_id:path}", response_class=HTMLResponse)  # DOIs and old arXiv ids hold "/"
async def paper_page(
    request: Request,
    paper_id: str,
    index: IndexDep,
    svc: SearchServiceDep,
    trends: TrendServiceDep,
    labels: TopicLabelsDep,
) -> HTMLResponse:
    if len(paper_id) > 200:
        return render.error(404, "No such paper", "Paper ids are at most 200 characters long.", nav="")
    doc, similar, explain = await asyncio.gather(index.get(paper_id), _similar(svc, paper_id), trends.explain(paper_id))
    if doc is None:
        return render.error(404, "No such paper", f"There is no paper {paper_id!r} in the index.", nav="")
    doc.pop("embedding", None)
    return render.page(
        "paper.html.j2",
        nav="",
        feeds=_feeds(feed(request, TRENDING_FEED, "Trending papers (24h)", window="24h")),
        paper=doc,
        similar=similar,
        windows=(explain or {}).get("windows", {}),
        as_of=(explain or {}).get("as_of"),
        labels=labels.labels,
    )


@router.get("/search", response_class=HTMLResponse)
async def search_page(request: Request, svc: SearchServiceDep, labels: TopicLabelsDep) -> HTMLResponse:
    base: dict[str, Any] = {"nav": "search", "labels": labels.labels, "page_size": PAGE_SIZE}
    try:
        p = SearchParams.read(request.query_params)
    except BadParams as e:
        return render.page("search.html.j2", 422, **base, p=SearchParams(), error=str(e), result=None)
    base["p"] = p
    if not p.q and p.filters.empty:
        return render.page("search.html.j2", **base, error=None, result=None)
    try:
        res = await svc.search(
            p.q, mode=p.mode, size=PAGE_SIZE, filters=p.filters, cursor=p.cursor, facets=FACET_FIELDS
        )
    except QuerySyntaxError as e:
        return render.page("search.html.j2", 400, **base, error=f"The query has a mistake: {e}.", result=None)
    except CursorError:
        why = "This results page belongs to another search (or to an earlier run of the server): start again."
        return render.page("search.html.j2", 400, **base, error=why, restart=p.link(), result=None)
    except SemanticUnavailable as e:
        why = f"Semantic search is not available on this server ({e}). Keyword search works."
        return render.page("search.html.j2", 503, **base, error=why, restart=p.link(mode="keyword"), result=None)
    first = (p.page - 1) * PAGE_SIZE + 1
    # The feed of a query that parsed (a bad query's feed would be the same 400).
    base["feeds"] = _feeds(feed(request, SEARCH_FEED, f"Search: {p.q}", q=p.q) if p.q else None)
    return render.page(
        "search.html.j2",
        **base,
        error=None,
        result=res,
        total_relation=getattr(res, "total_relation", "eq"),
        first=first,
        last=first + len(res.items) - 1,
        facets=facet_groups(res.facets, p, labels.labels),
        active=active_filters(p, labels.labels),
        next_href=p.link(cursor=res.next_cursor, page=p.page + 1) if res.next_cursor else None,
        first_href=p.link() if p.page > 1 else None,
    )
