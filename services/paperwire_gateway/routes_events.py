"""POST /v1/events: engagement (views, upvotes, stars, ...) onto engagement.v1, all or nothing.

Integrity at the door (the README's "Engagement integrity"):
- `actor_id` and a client's `id` are scoped by the key that sent them (`<key id>/<actor>`), so one key can
  neither impersonate another's actors nor shadow its event ids;
- retries count once: an `Idempotency-Key` header replays the first request's time (and refuses another body
  under the same key); without one, identical events with neither `ts` nor `id` from one key within
  PAPERWIRE_GATEWAY_EVENT_DEDUPE_WINDOW_S take the first one's time. Either way the event id (derived from the
  fields and the time) repeats, and trending counts an id once;
- a star snapshot may gain at most PAPERWIRE_GATEWAY_MAX_STAR_GAIN_PER_HOUR over the paper's highest earlier one;
- an event older than the trending dedupe horizon (less the future allowance) is a 422, not a dead letter later.
"""

# No `from __future__ import annotations`: FastAPI reads the dependencies from the annotations.

import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request
from pydantic import ValidationError

from paperwire_common.envelope import encode
from paperwire_common.events import Engagement
from paperwire_common.ids import event_id
from paperwire_common.intake import StarSnapshot
from paperwire_common.keys import Principal
from paperwire_common.streams import ENGAGEMENT

from .availability import bounded
from .bodies import json_body
from .deps import (
    BusDep,
    ClockDep,
    EventsWriter,
    IndexDep,
    IntakeDep,
    KafkaBreakerDep,
    SettingsDep,
    TrendServiceDep,
)
from .schemas import EngagementIn, EventsAccepted, problems

# openapi.py replaces this mark with maxItems = PAPERWIRE_GATEWAY_MAX_EVENTS_PER_REQUEST.
MAX_EVENTS_MARK = "x-paperwire-max-events"
_ONE = EngagementIn.model_json_schema()
BODY_SCHEMA = {"oneOf": [_ONE, {"type": "array", "items": _ONE, "minItems": 1, MAX_EVENTS_MARK: True}]}
HOUR = 3600.0

router = APIRouter(tags=["trending"])


def _refuse(errors: list[str]) -> HTTPException:
    more = f" (+{len(errors) - 20} more)" if len(errors) > 20 else ""
    return HTTPException(422, "; ".join(errors[:20]) + more)


def validate(items: list[Any]) -> list[EngagementIn]:
    errors: list[str] = []
    events: list[EngagementIn] = []
    for i, item in enumerate(items):
        try:
            events.append(EngagementIn.model_validate(item))
        except ValidationError as exc:
            errors += [f"events[{i}].{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()]
    if errors:
        raise _refuse(errors)
    return events


async def event_times(
    events: list[EngagementIn], key: Principal, body: bytes, idem: str | None, now: float, intake: Any, settings: Any
) -> list[float]:
    """Each event's time: its own `ts`, else the time the first copy of this request (or event) arrived."""
    if idem is not None:
        digest = hashlib.sha256(body).hexdigest()
        claim = f"idem:{key.key_id}:{idem}"
        got = await intake.claim({claim: json.dumps([digest, now])}, settings.idempotency_ttl_s, now)
        first_digest, first_now = json.loads(got[claim])
        if first_digest != digest:
            raise HTTPException(422, "this Idempotency-Key was used with another body")
        return [e.ts if e.ts is not None else float(first_now) for e in events]
    if settings.event_dedupe_window_s <= 0:
        return [e.ts if e.ts is not None else now for e in events]
    prints = {
        i: "same:" + event_id(key.key_id, e.paper_id, e.type, e.actor_id, str(e.stars))
        for i, e in enumerate(events)
        if e.ts is None and e.id is None
    }
    got = await intake.claim({p: repr(now) for p in prints.values()}, settings.event_dedupe_window_s, now)
    return [
        float(e.ts) if e.ts is not None else float(got[prints[i]]) if i in prints else now for i, e in enumerate(events)
    ]


@router.post(
    "/v1/events",
    status_code=202,
    response_model=EventsAccepted,
    responses=problems(400, 401, 403, 413, 415, 422, 503),
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": BODY_SCHEMA}}}},
)
async def post_events(
    request: Request,
    key: EventsWriter,
    settings: SettingsDep,
    clock: ClockDep,
    index: IndexDep,
    bus: BusDep,
    intake: IntakeDep,
    trends: TrendServiceDep,
    breaker: KafkaBreakerDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            description="makes a retry count once: the same key with the same body is the same request",
        ),
    ] = None,
) -> dict[str, Any]:
    """Accept one event or a batch (at most `PAPERWIRE_GATEWAY_MAX_EVENTS_PER_REQUEST`), with the scope
    events:write. Every event is checked first — schema, unknown paper, time too far ahead or behind, star
    jump — and nothing is accepted if one is bad. 503 with Retry-After when Kafka (or Elasticsearch, for the
    known-paper check) does not answer within `PAPERWIRE_GATEWAY_BACKEND_TIMEOUT_S`: retrying is safe, an event
    counts once by its id."""
    raw = await json_body(request)
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise HTTPException(422, "no events")
    if len(items) > settings.max_events_per_request:
        # 422 (not 413): the document states the bound as maxItems, so it is invalid input like any other.
        raise HTTPException(422, f"{len(items)} events; at most {settings.max_events_per_request} per request")
    events = validate(items)
    now = clock.now()
    oldest = now - (trends.settings.dedupe_horizon_s - settings.max_event_future_s)
    errors: list[str] = []
    for i, e in enumerate(events):
        if e.ts is not None and e.ts > now + settings.max_event_future_s:
            errors.append(f"events[{i}].ts is {e.ts - now:.0f}s in the future")
        elif e.ts is not None and e.ts < oldest:
            errors.append(
                f"events[{i}].ts is {now - e.ts:.0f}s old: beyond the trending dedupe horizon "
                f"({now - oldest:.0f}s), it could not be counted exactly once"
            )
    known = await bounded(
        "elasticsearch",
        index.get_versions(list({e.paper_id for e in events})),
        timeout_s=settings.backend_timeout_s,
        retry_after_s=settings.retry_after_s,
    )
    errors += [
        f"events[{i}].paper_id {e.paper_id!r} is not a known paper"
        for i, e in enumerate(events)
        if e.paper_id not in known
    ]
    if errors:
        raise _refuse(errors)
    times = await event_times(events, key, await request.body(), idempotency_key, now, intake, settings)
    stars = [(i, StarSnapshot(e.paper_id, e.stars, times[i])) for i, e in enumerate(events) if e.stars is not None]
    refused = await intake.check_stars([s for _, s in stars], settings.max_star_gain_per_hour / HOUR)
    if refused:
        raise _refuse(
            [
                f"events[{stars[r.at][0]}].stars jumps from {r.previous} to {stars[r.at][1].stars}: at most "
                f"{r.allowed:.0f} more are allowed {times[stars[r.at][0]] - r.previous_ts:.0f}s after the "
                f"previous snapshot (PAPERWIRE_GATEWAY_MAX_STAR_GAIN_PER_HOUR={settings.max_star_gain_per_hour:g})"
                for r in refused
            ]
        )
    out, ids = [], []
    for e, ts in zip(events, times, strict=True):
        actor = f"{key.key_id}/{e.actor_id}"
        eid = f"{key.key_id}/{e.id}" if e.id else event_id(e.paper_id, e.type, actor, repr(ts), str(e.stars))
        ev = Engagement(id=eid, paper_id=e.paper_id, type=e.type, actor_id=actor, ts=ts, stars=e.stars)
        out.append(encode(ENGAGEMENT, ev, key=e.paper_id, event_id=eid, source="paperwire/gateway", time=now))
        ids.append(eid)
    await bounded(
        "kafka",
        bus.publish(out),
        timeout_s=settings.backend_timeout_s,
        retry_after_s=settings.retry_after_s,
        breaker=breaker,
    )
    return {"accepted": len(out), "ids": ids}
