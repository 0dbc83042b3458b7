"""POST /v1/papers: papers in any format the ingestor reads, published like `paperwire ingest` does."""

# No `from __future__ import annotations`: FastAPI reads the dependencies from the annotations.

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request

from paperwire_common.ingest import IngestFormatError

from .bodies import media_type
from .deps import IngestDep, PapersWriter
from .schemas import IngestAccepted, problems

router = APIRouter(tags=["papers"])
MAX_LISTED = 100
# Content-Type -> format; "auto" sniffs the body (XML: Atom or OAI-PMH; JSON: JSONL or daily papers).
MEDIA_FORMATS = {
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/atom+xml": "arxiv-atom",
    "text/plain": "text",
    "application/json": "auto",
    "application/xml": "auto",
    "text/xml": "auto",
    "application/octet-stream": "auto",
    "": "auto",
}
Format = Literal["auto", "text", "jsonl", "arxiv-atom", "oai-pmh", "daily-papers"]
BODY_TYPES = sorted(t for t in MEDIA_FORMATS if t)
_BODY = {"schema": {"type": "string", "format": "binary"}}
# A JSON body is any JSON document: a daily-papers array or object, or a single JSONL record.
_JSON_BODY = {"schema": {"description": "daily-papers JSON (an array or an object) or one JSONL record"}}


@router.post(
    "/v1/papers",
    status_code=202,
    response_model=IngestAccepted,
    responses=problems(401, 403, 408, 413, 415, 422, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: _JSON_BODY if t == "application/json" else _BODY for t in BODY_TYPES},
        }
    },
)
async def ingest_papers(
    request: Request,
    key: PapersWriter,
    ingest: IngestDep,
    format: Annotated[
        Format, Query(description="the body's format; default: from the Content-Type, else sniffed")
    ] = "auto",
) -> dict[str, Any]:
    """Ingest a body of papers (scope papers:write): JSONL, arXiv Atom, OAI-PMH, daily-papers JSON or plain text,
    at most PAPERWIRE_GATEWAY_MAX_INGEST_BYTES. Good records are published (new and updated ones reach the
    index), bad ones are listed with their position and reason."""
    if ingest is None:
        raise HTTPException(503, "this gateway takes no papers (it runs without an ingestor)")
    got = media_type(request)
    if got not in MEDIA_FORMATS:
        raise HTTPException(415, f"a body of {got} is no paper source; send one of {', '.join(BODY_TYPES)}")
    fmt = format if format != "auto" else MEDIA_FORMATS[got]
    body = await request.body()
    if not body:
        raise HTTPException(422, "the body is empty")
    try:
        s = await ingest(body, fmt)
    except IngestFormatError as e:
        raise HTTPException(422, str(e)) from None
    return {
        "format": s.format,
        "read": s.read,
        "new": s.new,
        "updated": s.updated,
        "unchanged": s.unchanged,
        "rejected": s.rejected,
        "rejections": [{"position": p, "reason": r} for p, r in s.rejections[:MAX_LISTED]],
    }
