"""Reading request bodies: the declared media type is required (a cross-site form cannot post as text/plain),
JSON is parsed by orjson (nesting beyond 1024 levels is an error, never a RecursionError)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Depends, HTTPException, Request


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def require_json(request: Request) -> None:
    got = media_type(request)
    if got != "application/json" and not (got.startswith("application/") and got.endswith("+json")):
        raise HTTPException(415, f"the body must be application/json, not {got or 'unlabelled'}")


async def json_body(request: Request) -> Any:
    """The parsed JSON body: 415 for another media type, 400 for invalid or too deeply nested JSON."""
    require_json(request)
    data = await request.body()
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise HTTPException(400, f"the body is not valid JSON: {e}") from None


async def json_only(request: Request) -> None:
    """A route dependency (`dependencies=[JSON_ONLY]`) for routes whose body is a model: 415 before the body
    is validated (FastAPI would answer a text/plain body with a 422 about its type)."""
    require_json(request)


JSON_ONLY = Depends(json_only)
