"""Operations: liveness, readiness and Prometheus metrics."""

# No `from __future__ import annotations`: FastAPI reads the dependencies from the annotations.

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from paperwire_common import readiness as probing

from .deps import ProbesDep, ReadinessDep, SubscriptionServiceDep
from .schemas import Health, Ready

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz() -> dict[str, str]:
    """Liveness: the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Ready, responses={503: {"model": Ready, "description": "not ready"}})
async def readyz(probes: ProbesDep, subs: SubscriptionServiceDep, readiness: ReadinessDep) -> Any:
    """Readiness: Kafka, Elasticsearch and Redis answer now (each probe bounded), the subscription store serves, and
    every in-process service is ready; 503 names the parts that are not, and why."""
    states = {name: None if ok else "not ready" for name, ok in (readiness() if readiness else {}).items()}
    states["subscriptions"] = None if await subs.store.ready() else "not ready"
    ok, body = await probing.readiness(probes, states)
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
