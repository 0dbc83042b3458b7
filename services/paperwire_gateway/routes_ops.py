"""Operations: liveness, readiness and Prometheus metrics."""

# No `from __future__ import annotations`: FastAPI reads the dependencies from the annotations.

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .deps import IndexDep, ReadinessDep, SubscriptionServiceDep
from .schemas import Health, Ready

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz() -> dict[str, str]:
    """Liveness: the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Ready, responses={503: {"model": Ready, "description": "not ready"}})
async def readyz(index: IndexDep, subs: SubscriptionServiceDep, readiness: ReadinessDep) -> Any:
    """Readiness: the index answers, the subscription store serves, and every in-process service has started."""
    checks = {
        "index": await index.ready(),
        "subscriptions": await subs.store.ready(),
        **(readiness() if readiness else {}),
    }
    ok = all(checks.values())
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
