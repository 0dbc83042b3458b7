"""gRPC API (proto/paperwire/v1/papers.proto) over the same SearchIndex as REST. Generated code comes
from `make proto` into services/paperwire/ (git-ignored)."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from paperwire.v1 import papers_pb2, papers_pb2_grpc
from paperwire_common.backends import Backends
from paperwire_common.search.port import Filters, SearchRequest
from paperwire_common.search.query import QuerySyntaxError

_LIST_FIELDS = ("authors", "topics", "keyphrases", "methods", "datasets", "code_urls", "project_urls")
_STR_FIELDS = ("id", "title", "abstract", "arxiv_id", "doi", "published_at", "source")


def to_paper(doc: dict[str, Any]) -> Any:
    kw: dict[str, Any] = {f: str(doc[f]) for f in _STR_FIELDS if doc.get(f) is not None}
    kw.update({f: [str(x) for x in doc.get(f) or []] for f in _LIST_FIELDS})
    return papers_pb2.Paper(version=int(doc.get("version", 0)), has_code=bool(doc.get("has_code")), **kw)


class PapersService(papers_pb2_grpc.PapersServicer):
    def __init__(self, backends: Backends, max_size: int = 100) -> None:
        self.b, self.max_size = backends, max_size

    async def Search(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        size = request.size or 10
        if not 1 <= size <= self.max_size:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"size must be 1..{self.max_size}")
        filters = Filters(
            topic=request.topic or None, has_code=request.has_code if request.HasField("has_code") else None
        )
        req = SearchRequest(q=request.q, size=size, filters=filters)
        try:
            res = await self.b.index.search(req)
        except QuerySyntaxError as e:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        return papers_pb2.SearchResponse(
            total=res.total,
            items=[
                papers_pb2.SearchHit(
                    paper=to_paper({**h.doc, "id": h.id}),
                    score=h.score,
                    title_highlights=h.highlights.get("title", []),
                    abstract_highlights=h.highlights.get("abstract", []),
                )
                for h in res.hits
            ],
        )

    async def GetPaper(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        doc = await self.b.index.get(request.id)
        if doc is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no paper with id {request.id!r}")
            raise AssertionError("abort raises")
        return to_paper(doc)


async def serve_grpc(backends: Backends, host: str, port: int, stop: asyncio.Event) -> None:
    server = grpc.aio.server()
    papers_pb2_grpc.add_PapersServicer_to_server(PapersService(backends), server)
    server.add_insecure_port(f"{host}:{port}")
    await server.start()
    await stop.wait()
    await server.stop(grace=5)
