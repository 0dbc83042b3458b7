"""The OpenAPI document as the gateway really answers.

FastAPI documents every error as application/json and every invalid request as its `HTTPValidationError`; the
gateway sends application/problem+json (problems.py) with the `Problem` schema. Bounds that are settings (page
size, events per request) are only known when the app is built: routes mark them and the marks are filled here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from .access import OPERATIONS, keyless
from .deps import PAGE_SIZE_MARK
from .problems import PROBLEM
from .routes_events import MAX_EVENTS_MARK
from .schemas import ERRORS
from .settings import GatewaySettings

_REF = "#/components/schemas/"
_AS_PROBLEM = {_REF + "Problem", _REF + "HTTPValidationError"}


def _operations(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for ops in doc.get("paths", {}).values():
        yield from ops.values()


def _errors_as_problems(doc: dict[str, Any]) -> None:
    for op in _operations(doc):
        for answer in op.get("responses", {}).values():
            # Under the route's own media type (a feed's Atom, a page's text/html): problems are JSON.
            schemas = [(c.get("schema") or {}) for c in (answer.get("content") or {}).values()]
            if any(schema.get("$ref") in _AS_PROBLEM for schema in schemas):
                answer["content"] = {PROBLEM: {"schema": {"$ref": _REF + "Problem"}}}
    schemas = doc.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def _page_sizes(doc: dict[str, Any], top: int) -> None:
    for op in _operations(doc):
        for p in op.get("parameters", []):
            if p.get("schema", {}).pop(PAGE_SIZE_MARK, None):
                p["schema"]["maximum"] = top
                p["description"] = p["schema"]["description"] = f"results per page, 1..{top}"


def _max_events(node: Any, top: int) -> None:
    if isinstance(node, dict):
        if node.pop(MAX_EVENTS_MARK, None):
            node["maxItems"] = top
        for v in node.values():
            _max_events(v, top)
    elif isinstance(node, list):
        for v in node:
            _max_events(v, top)


SECURITY = "bearerKey"
_HEADER = {"schema": {"type": "string"}}
RATE_HEADERS = {
    "RateLimit-Policy": {**_HEADER, "description": 'the quota: `"key";q=600;w=60` (q requests per w seconds)'},
    "RateLimit": {**_HEADER, "description": 'what is left of it: `"key";r=599;t=60` (r requests, t seconds)'},
}


def _access(doc: dict[str, Any], settings: GatewaySettings) -> None:
    """Keys and quotas as the access middleware applies them: every operation but the health and metrics ones
    may answer 401 (a bad key) and 429 (over the quota) and carries the RateLimit headers; writes (they answer
    403) need a key, reads need one only when reads are not public."""
    doc.setdefault("components", {}).setdefault("securitySchemes", {})[SECURITY] = {
        "type": "http",
        "scheme": "bearer",
        "description": "an API key (POST /v1/keys with the master key), or the master key",
    }
    problem = {PROBLEM: {"schema": {"$ref": _REF + "Problem"}}}
    for path, ops in doc.get("paths", {}).items():
        if path in OPERATIONS:
            continue
        for method, op in ops.items():
            answers = op.setdefault("responses", {})
            writes = "403" in answers
            statuses = ["401", "429"] if settings.rate_limits else ["401"]
            for status in statuses:
                answers.setdefault(status, {"description": ERRORS[int(status)], "content": problem})
            answers["401"].setdefault("headers", {})["WWW-Authenticate"] = {
                **_HEADER,
                "description": 'the scheme and error: `Bearer realm="paperwire", error="invalid_token"`',
            }
            if settings.rate_limits:
                for status, answer in answers.items():
                    if status != "401":
                        answer.setdefault("headers", {}).update(RATE_HEADERS)
                answers["429"]["headers"]["Retry-After"] = {"schema": {"type": "integer"}, "description": "seconds"}
            keyed: list[dict[str, list[str]]] = [{SECURITY: []}]
            # What Access refuses without a key: writes by their scope, reads when they are not public.
            read_needs_key = not settings.public_reads and method in ("get", "head") and not keyless(path)
            op["security"] = keyed if writes or read_needs_key else [{}, *keyed]


def build(app: FastAPI, settings: GatewaySettings) -> dict[str, Any]:
    doc = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    _errors_as_problems(doc)
    _page_sizes(doc, settings.max_page_size)
    _access(doc, settings)
    for op in _operations(doc):
        _max_events(op.get("requestBody"), settings.max_events_per_request)
    return doc


def install(app: FastAPI, settings: GatewaySettings) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app, settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
