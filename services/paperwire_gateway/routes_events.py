"""POST /v1/events: engagement (views, upvotes, stars, ...) onto engagement.v1, all or nothing."""

# No `from __future__ import annotations`: FastAPI reads the body model from the annotations at definition.

import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from paperwire_common.envelope import encode
from paperwire_common.events import Engagement, EngagementType
from paperwire_common.ids import event_id
from paperwire_common.streams import ENGAGEMENT
from paperwire_common.trends.port import MAX_STARS, MAX_TS

from .settings import GatewaySettings


class EngagementIn(BaseModel):
    """One event as clients send it; `id` makes retries idempotent (default: derived from the fields)."""

    model_config = ConfigDict(extra="forbid")
    id: Annotated[str | None, Field(min_length=1, max_length=128)] = None
    paper_id: Annotated[str, Field(min_length=1, max_length=200)]
    type: EngagementType
    actor_id: Annotated[str, Field(min_length=1, max_length=200)]
    # Bounds of the trend store (trends.port): a value it could not score is a 422 here, not a dead letter later.
    ts: Annotated[
        float | None, Field(ge=0, le=MAX_TS, allow_inf_nan=False, description="epoch seconds; default: now")
    ] = None
    stars: Annotated[int | None, Field(ge=0, le=MAX_STARS, description="GitHub star count snapshot (type=star)")] = None

    @model_validator(mode="after")
    def _stars_only_for_star(self) -> "EngagementIn":
        if self.type == "star" and self.stars is None:
            raise ValueError("a star event needs `stars`, the repository's current star count")
        if self.type != "star" and self.stars is not None:
            raise ValueError("`stars` is only for type=star")
        return self


def router(settings: GatewaySettings) -> APIRouter:
    r = APIRouter()

    one = EngagementIn.model_json_schema()
    schema = {"oneOf": [one, {"type": "array", "items": one, "maxItems": settings.max_events_per_request}]}

    @r.post(
        "/v1/events",
        status_code=202,
        tags=["trending"],
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}},
    )
    async def post_events(request: Request) -> dict[str, Any]:
        """Accept one event or a batch (at most `PAPERWIRE_GATEWAY_MAX_EVENTS_PER_REQUEST`). Every event is
        checked first — schema, unknown paper, timestamp too far ahead — and nothing is accepted if one is bad."""
        try:
            raw = await request.json()
        except ValueError:
            raise HTTPException(400, "the body is not valid JSON") from None
        items = raw if isinstance(raw, list) else [raw]
        if not items:
            raise HTTPException(422, "no events")
        if len(items) > settings.max_events_per_request:
            raise HTTPException(413, f"{len(items)} events; at most {settings.max_events_per_request} per request")
        errors: list[str] = []
        events: list[EngagementIn] = []
        for i, item in enumerate(items):
            try:
                events.append(EngagementIn.model_validate(item))
            except ValidationError as exc:
                errors += [
                    f"events[{i}].{'.'.join(map(str, err['loc'])) or 'body'}: {err['msg']}" for err in exc.errors()
                ]
        if errors:
            raise HTTPException(422, "; ".join(errors[:20]))
        now = time.time()
        for i, e in enumerate(events):
            if e.ts is not None and e.ts > now + settings.max_event_future_s:
                errors.append(f"events[{i}].ts is {e.ts - now:.0f}s in the future")
        known = await request.app.state.backends.index.get_versions(list({e.paper_id for e in events}))
        errors += [
            f"events[{i}].paper_id {e.paper_id!r} is not a known paper"
            for i, e in enumerate(events)
            if e.paper_id not in known
        ]
        if errors:
            raise HTTPException(
                422, "; ".join(errors[:20]) + (f" (+{len(errors) - 20} more)" if len(errors) > 20 else "")
            )
        out, ids = [], []
        for e in events:
            ts = e.ts if e.ts is not None else now
            eid = e.id or event_id(e.paper_id, e.type, e.actor_id, repr(ts), str(e.stars))
            ev = Engagement(id=eid, paper_id=e.paper_id, type=e.type, actor_id=e.actor_id, ts=ts, stars=e.stars)
            out.append(encode(ENGAGEMENT, ev, key=e.paper_id, event_id=eid, source="paperwire/gateway", time=now))
            ids.append(eid)
        await request.app.state.backends.bus.publish(out)
        return {"accepted": len(out), "ids": ids}

    return r
