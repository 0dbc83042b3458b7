"""paperwire.v1.Papers, the unary reads: the REST API's semantics and bounds over the same services.

WatchTopicEvents (the stream) is served by watch.py and joined to this servicer in server.py.
"""

from __future__ import annotations

from typing import Any, cast

from paperwire.v1 import papers_pb2, topics_pb2
from paperwire_common.search.port import Filters
from paperwire_common.search.service import MODES, Mode
from paperwire_common.topics.service import TOPIC_SORTS, TopicSort

from ..deps import GatewayContext
from .convert import to_hit, to_paper, to_topic, to_trending
from .errors import Context, invalid, not_found, unary

WINDOWS = ("24h", "7d", "30d")
MAX_QUERY, MAX_ID, MAX_CURSOR, MAX_TOPIC_PAPERS = 1000, 200, 4000, 1000


def text(value: str, name: str, limit: int) -> str:
    """A string field checked as REST checks its parameters: bounded, no NUL (SQLite and Lucene refuse it)."""
    if len(value) > limit:
        raise invalid(f"{name} is longer than {limit} characters")
    if "\x00" in value:
        raise invalid(f"{name} contains a NUL character")
    return value


def choice(value: str, name: str, allowed: tuple[str, ...], default: str) -> str:
    if not value:
        return default
    if value not in allowed:
        raise invalid(f"{name} must be one of {', '.join(allowed)}")
    return value


class PapersReads:
    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        self.max_size = ctx.settings.max_page_size

    def size(self, value: int, default: int, top: int | None = None, name: str = "size") -> int:
        """0 (unset) is the default; else 1..top (max_page_size)."""
        top = top or self.max_size
        if value == 0:
            return default
        if not 1 <= value <= top:
            raise invalid(f"{name} must be 1..{top}")
        return value

    def paper_id(self, value: str) -> str:
        if not value:
            raise invalid("id is required")
        return text(value, "id", MAX_ID)

    @unary
    async def Search(self, request: Any, context: Context) -> Any:
        size = self.size(request.size, 10)
        mode = cast(Mode, choice(request.mode, "mode", MODES, "hybrid"))
        filters = Filters(
            topic=text(request.topic, "topic", MAX_ID) or None,
            has_code=request.has_code if request.HasField("has_code") else None,
        )
        if not request.cursor.isascii():  # cursors are ASCII (base64 and a hex signature)
            raise invalid("invalid cursor: not one this server issued")
        page = await self.ctx.search.search(
            text(request.q, "q", MAX_QUERY),
            mode=mode,
            size=size,
            filters=filters,
            cursor=text(request.cursor, "cursor", MAX_CURSOR) or None,
        )
        return papers_pb2.SearchResponse(
            total=page.total,
            items=[to_hit(i) for i in page.items],
            next_cursor=page.next_cursor or "",
            mode=page.mode,
            total_relation=page.total_relation,
            timed_out=page.timed_out,
            degraded=page.degraded or "",
        )

    @unary
    async def GetPaper(self, request: Any, context: Context) -> Any:
        doc = await self.ctx.index.get(self.paper_id(request.id))
        if doc is None:
            raise not_found(f"no paper with id {request.id!r}")
        return to_paper(doc)

    @unary
    async def Similar(self, request: Any, context: Context) -> Any:
        pid = self.paper_id(request.id)
        items, method = await self.ctx.search.similar(pid, self.size(request.size, 10))
        return papers_pb2.SimilarResponse(paper_id=pid, method=method, items=[to_hit(i) for i in items])

    @unary
    async def Trending(self, request: Any, context: Context) -> Any:
        window = choice(request.window, "window", WINDOWS, "24h")
        topic = text(request.topic, "topic", MAX_ID) or None
        return to_trending(await self.ctx.trends.trending(window, topic, self.size(request.size, 20)))

    @unary
    async def Latest(self, request: Any, context: Context) -> Any:
        items = await self.ctx.trends.latest(self.size(request.size, 20))
        return papers_pb2.LatestResponse(items=[to_paper(i) for i in items])

    @unary
    async def ListTopics(self, request: Any, context: Context) -> Any:
        sort = cast(TopicSort, choice(request.sort, "sort", TOPIC_SORTS, "size"))
        topics = await self.ctx.topics.list_topics(self.size(request.size, 50), sort)
        return topics_pb2.ListTopicsResponse(topics=[to_topic(t) for t in topics])

    @unary
    async def GetTopic(self, request: Any, context: Context) -> Any:
        if not request.id:
            raise invalid("id is required")
        topic_id = text(request.id, "id", 64)
        got = await self.ctx.topics.get_topic(topic_id, self.size(request.papers, 100, MAX_TOPIC_PAPERS, "papers"))
        if got is None:
            raise not_found(f"no topic with id {topic_id!r}")
        return to_topic(got)
