"""Conditional GET of feeds (RFC 9110 §13): `ETag` and `Last-Modified`, 304 on `If-None-Match` /
`If-Modified-Since`.

A feed has no stored modification time: trending ranks move with every event, an old paper can enter a feed.
So each process remembers, per feed URL, the digest of the content it last served and when that content first
appeared (`FeedVersions`). Last-Modified is that instant, strictly later (by at least a second, the resolution of
HTTP dates) than the one before it, so a client revalidating with If-Modified-Since never gets a 304 for content
it has not seen. After a restart (or an eviction) the instant is "now": a needless 200, never a wrong 304.
The ETag covers the content and that instant, the feed's `updated` element.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections import OrderedDict
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import orjson
from fastapi import Request, Response

FEED_MEMORY = 4096  # feed URLs remembered per process


def digest(content: Any) -> str:
    """A digest of JSON-ready content (the feed's metadata and items, without its `updated`)."""
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()


class FeedVersions:
    """Per feed URL: (digest of the content last served, the whole second it first appeared)."""

    def __init__(self, size: int = FEED_MEMORY) -> None:
        self.size = size
        self._seen: OrderedDict[str, tuple[str, int]] = OrderedDict()

    def since(self, key: str, content_digest: str, now: float) -> int:
        """When this content of the feed at `key` first appeared (epoch seconds)."""
        got = self._seen.get(key)
        if got is not None and got[0] == content_digest:
            self._seen.move_to_end(key)
            return got[1]
        t = math.floor(now)
        if got is not None:
            t = max(t, got[1] + 1)
        self._seen[key] = (content_digest, t)
        self._seen.move_to_end(key)
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return t


def feed_key(request: Request) -> str:
    """The feed's identity: its path and sorted query (the order of parameters does not make a new feed)."""
    return request.url.path + "?" + "&".join(sorted(f"{k}={v}" for k, v in request.query_params.multi_items()))


def etag_of(content_digest: str, since: int) -> str:
    return '"' + hashlib.sha256(f"{content_digest}/{since}".encode()).hexdigest()[:32] + '"'


def _tags(header: str) -> set[str]:
    return {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}


def not_modified(request: Request, etag: str, since: int) -> bool:
    """RFC 9110 §13.2.2: If-None-Match (weak comparison) decides when present; else If-Modified-Since."""
    inm = request.headers.get("if-none-match")
    if inm is not None:
        tags = _tags(inm)
        return "*" in tags or etag in tags
    ims = request.headers.get("if-modified-since")
    if ims is None:
        return False
    try:
        when = parsedate_to_datetime(ims)
    except (TypeError, ValueError, IndexError, OverflowError):
        return False  # an invalid date is ignored (RFC 9110 §13.1.3)
    if when.tzinfo is None:
        return False
    return since <= when.timestamp()


def validators(etag: str, since: int) -> dict[str, str]:
    return {
        "ETag": etag,
        "Last-Modified": format_datetime(dt.datetime.fromtimestamp(since, dt.UTC), usegmt=True),
        "Cache-Control": "no-cache",  # may be stored, but revalidated each time (cheap with the validators)
    }


def not_modified_response(etag: str, since: int) -> Response:
    return Response(status_code=304, headers=validators(etag, since))
