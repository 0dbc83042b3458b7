"""RFC 9457 problem+json for every error the gateway returns: a 4xx says what to fix, never a bare 500."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from paperwire_common.logging import get_logger
from paperwire_common.search.query import QuerySyntaxError
from paperwire_common.search.service import CursorError, NotFound, SemanticUnavailable
from paperwire_common.subscriptions.service import ConfirmationPending, SubscriptionInvalid, SubscriptionNotFound

from .availability import UNREACHABLE, Unavailable

log = get_logger(__name__)
PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def unavailable(exc: Unavailable) -> JSONResponse:
    return problem(
        503, "Service Unavailable", exc.detail, {"Retry-After": str(exc.retry_after_s)}, unavailable=exc.part
    )


def install(app: FastAPI, retry_after_s: int = 5) -> None:
    @app.exception_handler(Unavailable)
    async def _unavailable(_: Request, exc: Unavailable) -> JSONResponse:
        return unavailable(exc)

    # A backend that fails under a route that does not bound its calls itself (a search while Elasticsearch is
    # down): still a 503 naming it, with Retry-After, not an internal error.
    for part, errors in UNREACHABLE.items():
        for error in errors:

            async def _unreachable(_: Request, exc: Exception, part: str = part) -> JSONResponse:
                detail = f"{part} is unreachable: {type(exc).__name__}"
                return unavailable(Unavailable(part, detail, retry_after_s))

            app.add_exception_handler(error, _unreachable)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        return problem(422, "Invalid request", f"{where}: {first['msg']}", errors=errors)

    @app.exception_handler(QuerySyntaxError)
    async def _query(_: Request, exc: QuerySyntaxError) -> JSONResponse:
        return problem(400, "Invalid query", str(exc))

    @app.exception_handler(CursorError)
    async def _cursor(_: Request, exc: CursorError) -> JSONResponse:
        return problem(400, "Invalid cursor", str(exc))

    @app.exception_handler(SemanticUnavailable)
    async def _semantic(_: Request, exc: SemanticUnavailable) -> JSONResponse:
        return problem(503, "Semantic search unavailable", str(exc))

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return problem(404, "Not Found", f"no paper with id {exc.args[0]!r}")

    @app.exception_handler(SubscriptionInvalid)
    async def _subscription_invalid(_: Request, exc: SubscriptionInvalid) -> JSONResponse:
        return problem(422, "Invalid subscription", str(exc))

    @app.exception_handler(SubscriptionNotFound)
    async def _subscription_not_found(_: Request, exc: SubscriptionNotFound) -> JSONResponse:
        return problem(404, "Not Found", f"no subscription with id {exc.args[0]!r}")

    @app.exception_handler(ConfirmationPending)
    async def _confirmation_pending(_: Request, exc: ConfirmationPending) -> JSONResponse:
        retry = str(max(1, round(exc.retry_after_s)))
        return problem(429, "Too Many Requests", str(exc), headers={"Retry-After": retry})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 405:
            return problem(405, "Method Not Allowed", f"{request.method} is not allowed here", headers=_allow(request))
        # Keeps the exception's headers: a 405's `Allow`, a 401's `WWW-Authenticate`.
        return problem(
            exc.status_code,
            _title(exc.status_code),
            str(exc.detail),
            headers=dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(ClientDisconnect)
    async def _gone(_: Request, exc: ClientDisconnect) -> Response:
        # The client left (or timeouts.py cut a slow body off with its 408): nobody reads an answer.
        return Response(status_code=400)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        log.exception("gateway.unhandled", path=request.url.path)
        return problem(500, "Internal error", "the server failed; the error was logged")


def _allow(request: Request) -> dict[str, str]:
    """`Allow` with the methods of every route of this path (Starlette names only the first route's)."""
    path = request.scope["path"]
    methods = {m for regex, ms in request.app.state.route_methods if regex.match(path) for m in ms}
    return {"Allow": ", ".join(sorted(methods))}


def index_methods(app: FastAPI, routers: list[Any]) -> None:
    """Remember each route's path pattern and methods, for `Allow` (FastAPI wraps included routers)."""
    app.state.route_methods = [
        (r.path_regex, frozenset(r.methods)) for router in routers for r in router.routes if getattr(r, "methods", None)
    ]


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
