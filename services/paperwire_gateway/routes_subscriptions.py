"""Subscriptions, as their owner manages them: webhooks (signed, Standard Webhooks) and daily digest e-mails; the
delivery log; and the operator's digest run. The owner is the API key (scope `subscriptions:write`): every route
but the digest run (scope `admin`) is owner-scoped, and another key's subscription id is a 404, as an unknown
one is."""

# No `from __future__ import annotations`: FastAPI reads the dependencies from the annotations.

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response
from starlette.convertors import StringConvertor, register_url_convertor

from paperwire_common.clock import iso
from paperwire_common.mail.digest import digest_day
from paperwire_common.subscriptions.service import NewSubscription, attempt_view, public_view

from .bodies import JSON_ONLY
from .deps import ClockDep, CurrentOwner, DigestsDep, Operator, SubscriptionServiceDep
from .schemas import (
    DeliveryLog,
    DigestsQueued,
    PingQueued,
    SecretRotated,
    Subscription,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionList,
    WebhookSubscriptionIn,
    problems,
)


class SubscriptionPath(StringConvertor):
    """`{subscription_id:subscription}`: a path segment that is not `email`. OpenAPI matches the concrete path
    /v1/subscriptions/email (the sign-up, POST) before the templated /v1/subscriptions/{subscription_id}, so a
    GET there is a 405 with `Allow: POST`, not a lookup of a subscription called "email"."""

    regex = r"(?!email$)[^/]+"


register_url_convertor("subscription", SubscriptionPath())
router = APIRouter(tags=["subscriptions"])
SubscriptionId = Annotated[str, Path(min_length=1, max_length=64, description="the subscription's id (sub_...)")]
OWNED = (401, 403, 404, 422)  # 403: the key lacks subscriptions:write
REFUSED = {
    422: "invalid body, or a webhook URL the SSRF guard refuses (loopback, private, link-local, CGNAT, multicast, "
    "reserved or IPv4-mapped addresses, or http without PAPERWIRE_NOTIFIER_ALLOW_HTTP): `detail` says why",
    429: "e-mail: a confirmation went to this address in the current sign-up period (Retry-After)",
}


def _new(body: Any) -> NewSubscription:
    if isinstance(body, WebhookSubscriptionIn):
        return NewSubscription(
            "webhook",
            url=body.url,
            events=tuple(body.events),
            query=body.query,
            topics=tuple(body.topics),
            positive_paper_ids=tuple(body.positivePaperIds),
        )
    return NewSubscription(
        "email", email=body.email, query=body.query, topics=tuple(body.topics), schedule=body.schedule
    )


@router.post(
    "/v1/subscriptions",
    status_code=201,
    response_model=SubscriptionCreated,
    response_model_exclude_unset=True,
    responses=problems(400, 401, 403, 415, 422, 429, why=REFUSED),
    dependencies=[JSON_ONLY],
)
async def create_subscription(
    subs: SubscriptionServiceDep, owner: CurrentOwner, body: Annotated[SubscriptionIn, Body()]
) -> dict[str, Any]:
    """A webhook (`channel: webhook`: `url`, `events`, optional `query`, `topics`, `positivePaperIds`) answers
    with its signing `secret`, shown only here. An e-mail subscription (`channel: email`) sends a confirmation
    e-mail and nothing else until its link is followed (double opt-in)."""
    created = await subs.create(owner, _new(body))
    out = public_view(created.subscription)
    if created.secret is not None:
        out["secret"] = created.secret
    return out


@router.get(
    "/v1/subscriptions",
    response_model=SubscriptionList,
    response_model_exclude_unset=True,
    responses=problems(401, 403),
)
async def list_subscriptions(subs: SubscriptionServiceDep, owner: CurrentOwner) -> dict[str, Any]:
    """This owner's subscriptions, oldest first."""
    return {"items": [public_view(r) for r in await subs.list_for(owner)]}


@router.get(
    "/v1/subscriptions/{subscription_id:subscription}",
    response_model=Subscription,
    response_model_exclude_unset=True,
    responses=problems(*OWNED),
)
async def get_subscription(
    subs: SubscriptionServiceDep, owner: CurrentOwner, subscription_id: SubscriptionId
) -> dict[str, Any]:
    """One subscription; a disabled one says why in `status_reason`."""
    return public_view(await subs.get(owner, subscription_id))


@router.delete(
    "/v1/subscriptions/{subscription_id:subscription}",
    status_code=204,
    response_class=Response,
    responses=problems(*OWNED),
)
async def delete_subscription(
    subs: SubscriptionServiceDep, owner: CurrentOwner, subscription_id: SubscriptionId
) -> Response:
    """Delete it: nothing more is sent for it (queued retries are dropped when they come due)."""
    await subs.delete(owner, subscription_id)
    return Response(status_code=204)


@router.post(
    "/v1/subscriptions/{subscription_id}/test",
    status_code=202,
    response_model=PingQueued,
    responses=problems(*OWNED, why={422: "not a webhook subscription"}),
)
async def test_subscription(
    subs: SubscriptionServiceDep, owner: CurrentOwner, subscription_id: SubscriptionId
) -> dict[str, Any]:
    """Queue a signed `ping` event to the webhook now; its attempts show in /deliveries."""
    d = await subs.test(owner, subscription_id)
    return {"webhook_id": d.id, "event_type": "ping"}


@router.post(
    "/v1/subscriptions/{subscription_id}/rotate-secret",
    response_model=SecretRotated,
    responses=problems(*OWNED, why={422: "not a webhook subscription"}),
)
async def rotate_secret(
    subs: SubscriptionServiceDep, owner: CurrentOwner, subscription_id: SubscriptionId
) -> dict[str, Any]:
    """A new signing secret (shown only here). Until `previous_secret_expires_at`
    (PAPERWIRE_NOTIFIER_ROTATION_GRACE_S) every delivery is signed with both, so receivers can switch."""
    secret, until = await subs.rotate_secret(owner, subscription_id)
    return {"id": subscription_id, "secret": secret, "previous_secret_expires_at": iso(until)}


@router.get(
    "/v1/subscriptions/{subscription_id}/deliveries",
    response_model=DeliveryLog,
    responses=problems(*OWNED),
)
async def list_deliveries(
    subs: SubscriptionServiceDep,
    owner: CurrentOwner,
    subscription_id: SubscriptionId,
    size: Annotated[int, Query(ge=1, le=1000, description="attempts, newest first")] = 100,
) -> dict[str, Any]:
    """Every delivery attempt, newest first: event, webhook-id, time, status code or error, latency, and when
    the next retry is due."""
    return {
        "subscription_id": subscription_id,
        "attempts": [attempt_view(a) for a in await subs.attempts(owner, subscription_id, size)],
    }


@router.post(
    "/v1/digests/send",
    response_model=DigestsQueued,
    tags=["operations"],
    responses=problems(401, 403),
)
async def send_digests(subs: SubscriptionServiceDep, digests: DigestsDep, clock: ClockDep, _: Operator) -> Any:
    """Operator: send today's digest to every confirmed e-mail subscription that has not had it (once per
    subscription per digest day, however often this is called, and by however many gateways)."""
    now = clock.now()
    queued = await digests.queue_due(subs.store, subs.deliveries, now, scheduled=False)
    return {"day": digest_day(now, digests.settings.digest_hour_utc)[0], "queued": queued}
