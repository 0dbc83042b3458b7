"""Atom 1.0 feeds: trending, latest, a topic's papers and a saved search, for feed readers.

The same papers as the JSON feeds, rendered by atom.py; each answer carries `ETag` and `Last-Modified` and a
revalidation of unchanged content gets 304 (revalidation.py).
"""

# No `from __future__ import annotations`: FastAPI reads Query(...) bounds from the annotations.

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response

from paperwire_common.clock import Clock
from paperwire_common.search.port import SearchRequest
from paperwire_common.search.query import parse
from paperwire_common.trends.service import FEED_FIELDS, Window

from .atom import ATOM, FeedMeta, render
from .deps import ClockDep, FeedSize, FeedVersionsDep, IndexDep, PublicUrlDep, TopicServiceDep, TrendServiceDep
from .revalidation import FeedVersions, digest, etag_of, feed_key, not_modified, not_modified_response, validators
from .schemas import problems

router = APIRouter(tags=["feeds"])
# What an entry shows: the digest covers these (not the score, which decays every second).
SHOWN = tuple(f for f in FEED_FIELDS if f not in ("upvotes", "keyphrases", "has_code", "topics", "source"))
NO_NUL = r"^[^\x00]*$"


class AtomResponse(Response):
    media_type = ATOM


_VALIDATORS = {
    "ETag": {"description": "entity tag of this version of the feed", "schema": {"type": "string"}},
    "Last-Modified": {"description": "when this version of the feed appeared", "schema": {"type": "string"}},
}
ATOM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "an Atom 1.0 feed (RFC 4287)",
        "content": {ATOM: {"schema": {"type": "string"}}},
        "headers": _VALIDATORS,
    },
    304: {"description": "not modified: the If-None-Match / If-Modified-Since version is current"},
}


async def atom_answer(
    request: Request,
    versions: FeedVersions,
    clock: Clock,
    public_url: str,
    meta: FeedMeta,
    items: list[dict[str, Any]],
) -> Response:
    shown = [{k: i[k] for k in SHOWN if k in i} for i in items]
    content = digest([meta.id, meta.title, meta.subtitle, meta.self_url, meta.site_url, shown])
    since = versions.since(feed_key(request), content, clock.now())
    etag = etag_of(content, since)
    if not_modified(request, etag, since):
        return not_modified_response(etag, since)
    return AtomResponse(render(meta, shown, since, public_url), headers=validators(etag, since))


def _self_url(request: Request, public_url: str) -> str:
    """The feed's canonical URL: its parameters sorted (one feed, however a reader orders them)."""
    query = urlencode(sorted(request.query_params.multi_items()))
    return public_url + request.url.path + (f"?{query}" if query else "")


@router.get("/v1/feeds/trending.atom", response_class=AtomResponse, responses={**ATOM_RESPONSES, **problems(422)})
async def trending_atom(
    request: Request,
    trends: TrendServiceDep,
    topics: TopicServiceDep,
    public_url: PublicUrlDep,
    versions: FeedVersionsDep,
    clock: ClockDep,
    size: FeedSize,
    window: Window = "24h",
    topic: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The trending feed (GET /v1/feeds/trending) as Atom: papers in rank order."""
    items = await trends.ranked(window, topic, size, clock.now())
    about = ""
    if topic:
        got = await topics.get_summary(topic)
        about = f" in {got['label'] if got else topic}"
    meta = FeedMeta(
        id=f"urn:paperwire:feed:trending:{window}" + (f":topic:{quote(topic, safe='')}" if topic else ""),
        title=f"Paperwire: trending papers{about} ({window})",
        self_url=_self_url(request, public_url),
        site_url=public_url + "/",
        subtitle="papers by time-decayed engagement score, highest first",
    )
    return await atom_answer(request, versions, clock, public_url, meta, items)


@router.get("/v1/feeds/latest.atom", response_class=AtomResponse, responses={**ATOM_RESPONSES, **problems(422)})
async def latest_atom(
    request: Request,
    trends: TrendServiceDep,
    public_url: PublicUrlDep,
    versions: FeedVersionsDep,
    clock: ClockDep,
    size: FeedSize,
) -> Response:
    """The latest feed (GET /v1/feeds/latest) as Atom: the newest papers by publication date."""
    meta = FeedMeta(
        id="urn:paperwire:feed:latest",
        title="Paperwire: latest papers",
        self_url=_self_url(request, public_url),
        site_url=public_url + "/",
    )
    return await atom_answer(request, versions, clock, public_url, meta, await trends.latest(size))


@router.get(
    "/v1/topics/{topic_id}/feed.atom",
    response_class=AtomResponse,
    responses={**ATOM_RESPONSES, **problems(404, 422)},
)
async def topic_atom(
    request: Request,
    topics: TopicServiceDep,
    public_url: PublicUrlDep,
    versions: FeedVersionsDep,
    clock: ClockDep,
    size: FeedSize,
    topic_id: Annotated[str, Path(max_length=64)],
) -> Response:
    """A topic's papers as Atom, newest arrivals first."""
    got = await topics.feed(topic_id, size, FEED_FIELDS)
    if got is None:
        raise HTTPException(404, f"no topic with id {topic_id!r}")
    summary, items = got
    meta = FeedMeta(
        id=f"urn:paperwire:feed:topic:{quote(topic_id, safe='')}",
        title=f"Paperwire topic: {summary['label']}",
        self_url=_self_url(request, public_url),
        site_url=public_url + "/",
        subtitle=", ".join(summary["keyphrases"][:10]) or None,
    )
    return await atom_answer(request, versions, clock, public_url, meta, items)


@router.get("/v1/feeds/search.atom", response_class=AtomResponse, responses={**ATOM_RESPONSES, **problems(400, 422)})
async def search_atom(
    request: Request,
    index: IndexDep,
    public_url: PublicUrlDep,
    versions: FeedVersionsDep,
    clock: ClockDep,
    size: FeedSize,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=1000,
            pattern=NO_NUL,
            description='the saved search: words, "phrases", AND/OR/NOT, +must, -not, field:value',
        ),
    ],
) -> Response:
    """A saved search as Atom: the papers matching `q` (keyword search), newest arrivals first, so a new match
    shows up at the top."""
    res = await index.search(
        SearchRequest(parse(q), size=size, fields=FEED_FIELDS, order="arrival", highlight=False, count=False)
    )
    meta = FeedMeta(
        id=f"urn:paperwire:feed:search:{quote(q, safe='')}",
        title=f"Paperwire search: {q}",
        self_url=_self_url(request, public_url),
        site_url=f"{public_url}/?q={quote(q, safe='')}",
    )
    return await atom_answer(request, versions, clock, public_url, meta, [{**h.doc, "id": h.id} for h in res.hits])
