"""POST /v1/events: engagement (views, upvotes, stars, ...) onto engagement.v1, all or nothing."""

# No `from __future__ import annotations`: FastAPI reads the dependencies from the annotations.

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import ValidationError

from paperwire_common.envelope import encode
from paperwire_common.events import Engagement
from paperwire_common.ids import event_id
from paperwire_common.streams import ENGAGEMENT

from .deps import BusDep, ClockDep, IndexDep, SettingsDep
from .schemas import EngagementIn, EventsAccepted, problems

# openapi.py replaces this mark with maxItems = PAPERWIRE_GATEWAY_MAX_EVENTS_PER_REQUEST.
MAX_EVENTS_MARK = "x-paperwire-max-events"
_ONE = EngagementIn.model_json_schema()
BODY_SCHEMA = {"oneOf": [_ONE, {"type": "array", "items": _ONE, MAX_EVENTS_MARK: True}]}

router = APIRouter(tags=["trending"])


@router.post(
    "/v1/events",
    status_code=202,
    response_model=EventsAccepted,
    responses=problems(400, 413, 422),
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": BODY_SCHEMA}}}},
)
async def post_events(
    request: Request, settings: SettingsDep, clock: ClockDep, index: IndexDep, bus: BusDep
) -> dict[str, Any]:
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
            errors += [f"events[{i}].{'.'.join(map(str, err['loc'])) or 'body'}: {err['msg']}" for err in exc.errors()]
    if errors:
        raise HTTPException(422, "; ".join(errors[:20]))
    now = clock.now()
    for i, e in enumerate(events):
        if e.ts is not None and e.ts > now + settings.max_event_future_s:
            errors.append(f"events[{i}].ts is {e.ts - now:.0f}s in the future")
    known = await index.get_versions(list({e.paper_id for e in events}))
    errors += [
        f"events[{i}].paper_id {e.paper_id!r} is not a known paper"
        for i, e in enumerate(events)
        if e.paper_id not in known
    ]
    if errors:
        raise HTTPException(422, "; ".join(errors[:20]) + (f" (+{len(errors) - 20} more)" if len(errors) > 20 else ""))
    out, ids = [], []
    for e in events:
        ts = e.ts if e.ts is not None else now
        eid = e.id or event_id(e.paper_id, e.type, e.actor_id, repr(ts), str(e.stars))
        ev = Engagement(id=eid, paper_id=e.paper_id, type=e.type, actor_id=e.actor_id, ts=ts, stars=e.stars)
        out.append(encode(ENGAGEMENT, ev, key=e.paper_id, event_id=eid, source="paperwire/gateway", time=now))
        ids.append(eid)
    await bus.publish(out)
    return {"accepted": len(out), "ids": ids}
