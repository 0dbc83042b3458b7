"""gRPC API (proto/paperwire/v1/papers.proto) over the same SearchIndex as REST. Generated code comes
from `make proto` into services/paperwire/ (git-ignored)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import grpc

from paperwire.v1 import papers_pb2, papers_pb2_grpc
from paperwire_common.backends import Backends
from paperwire_common.search.port import Filters
from paperwire_common.search.query import QuerySyntaxError
from paperwire_common.search.service import MODES, CursorError, Mode, SearchService, SemanticUnavailable

_LIST_FIELDS = ("authors", "topics", "keyphrases", "methods", "datasets", "code_urls", "project_urls")
_STR_FIELDS = ("id", "title", "abstract", "arxiv_id", "doi", "published_at", "source")


def to_paper(doc: dict[str, Any]) -> Any:
    kw: dict[str, Any] = {f: str(doc[f]) for f in _STR_FIELDS if doc.get(f) is not None}
    kw.update({f: [str(x) for x in doc.get(f) or []] for f in _LIST_FIELDS})
    return papers_pb2.Paper(version=int(doc.get("version", 0)), has_code=bool(doc.get("has_code")), **kw)


class PapersService(papers_pb2_grpc.PapersServicer):
    def __init__(self, backends: Backends, search: SearchService, max_size: int = 100) -> None:
        self.b, self.search, self.max_size = backends, search, max_size

    async def Search(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        size = request.size or 10
        if not 1 <= size <= self.max_size:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"size must be 1..{self.max_size}")
        mode = cast(Mode, request.mode or "hybrid")
        if mode not in MODES:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"mode must be one of {', '.join(MODES)}")
        filters = Filters(
            topic=request.topic or None, has_code=request.has_code if request.HasField("has_code") else None
        )
        try:
            page = await self.search.search(
                request.q, mode=mode, size=size, filters=filters, cursor=request.cursor or None
            )
        except (QuerySyntaxError, CursorError) as e:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        except SemanticUnavailable as e:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(e))
        items = [
            papers_pb2.SearchHit(
                paper=to_paper(it),
                score=float(it["score"]),
                title_highlights=it["highlights"].get("title", []),
                abstract_highlights=it["highlights"].get("abstract", []),
            )
            for it in page.items
        ]
        return papers_pb2.SearchResponse(
            total=page.total, items=items, next_cursor=page.next_cursor or "", mode=page.mode
        )

    async def GetPaper(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        doc = await self.b.index.get(request.id)
        if doc is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no paper with id {request.id!r}")
            raise AssertionError("abort raises")
        return to_paper(doc)


async def serve_grpc(backends: Backends, search: SearchService, host: str, port: int, stop: asyncio.Event) -> None:
    server = grpc.aio.server()
    papers_pb2_grpc.add_PapersServicer_to_server(PapersService(backends, search), server)
    server.add_insecure_port(f"{host}:{port}")
    await server.start()
    await stop.wait()
    await server.stop(grace=5)
