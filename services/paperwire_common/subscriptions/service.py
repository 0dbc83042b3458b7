"""What the gateway's subscription routes call: validation (validation.py: the SSRF guard, the query language),
secrets and tokens, owner scoping (an owner sees and changes only its own: anyone else's id is a 404), the
confirmation e-mail (double opt-in, at most one per address per sign-up period), anonymous e-mail sign-up and the
test ping. Errors: SubscriptionInvalid (422 with the reason), SubscriptionNotFound (404), ConfirmationPending (429)."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from ..clock import Clock, SystemClock, iso
from ..deliveries.port import Attempt, Delivery, DeliveryStore
from ..events import SubscriptionRecord, WebhookSecret
from ..mail.compose import message, render
from ..webhooks import messages, signing
from ..webhooks.ssrf import Resolver, resolve
from .port import SubscriptionStore
from .settings import NotifySettings
from .validation import EVENT_TYPES, NewSubscription, SubscriptionInvalid, valid_email, validate

__all__ = [
    "ANONYMOUS",
    "EVENT_TYPES",
    "ConfirmationPending",
    "Created",
    "NewSubscription",
    "SubscriptionInvalid",
    "SubscriptionNotFound",
    "SubscriptionService",
    "attempt_view",
    "public_view",
]

# The owner of e-mail subscriptions made without a key (the site's sign-up form): no key maps to it, so no one
# lists or changes them through the API; their recipient confirms and unsubscribes through the e-mailed links.
ANONYMOUS = "anonymous"
# Rotated-out secrets that still sign during their grace period, newest first: every signature costs each attempt.
MAX_ROTATED_OUT = 4


class SubscriptionNotFound(KeyError):
    pass


class ConfirmationPending(Exception):
    """A confirmation e-mail went to this address in the current sign-up period (HTTP 429 to a key holder)."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"a confirmation e-mail was sent to this address recently; retry in {retry_after_s:.0f}s")
        self.retry_after_s = retry_after_s


@dataclass
class Created:
    subscription: SubscriptionRecord
    secret: str | None = None  # shown once (webhooks)
    extra: dict[str, Any] = field(default_factory=dict)


def public_view(r: SubscriptionRecord) -> dict[str, Any]:
    """What an owner may read back (times ISO-8601 UTC): never a secret or a token."""
    out: dict[str, Any] = {
        "id": r.id,
        "channel": r.channel,
        "status": r.status,
        "status_reason": r.status_reason,
        "events": list(r.events),
        "query": r.query,
        "topics": list(r.topics),
        "positivePaperIds": list(r.positive_paper_ids),
        "created_at": iso(r.created_at),
        "updated_at": iso(r.updated_at),
    }
    if r.channel == "webhook":
        out["url"] = r.url
    else:
        out |= {"email": r.email, "schedule": r.schedule, "confirmed_at": _iso(r.confirmed_at)}
    return out


def attempt_view(a: Attempt) -> dict[str, Any]:
    """One delivery attempt as /deliveries lists it: the webhook-id is the delivery's id."""
    return {
        "webhook_id": a.delivery_id,
        "event_type": a.event_type,
        "event_id": a.event_id,
        "attempt": a.attempt,
        "at": iso(a.at),
        "outcome": a.outcome,
        "status_code": a.status_code,
        "error": a.error,
        "latency_ms": round(a.latency_s * 1000, 1),
        "next_attempt_at": _iso(a.next_attempt_at),
    }


def _iso(ts: float | None) -> str | None:
    return iso(ts) if ts is not None else None


class SubscriptionService:
    def __init__(
        self,
        store: SubscriptionStore,
        deliveries: DeliveryStore,
        settings: NotifySettings,
        public_url: str,
        *,
        clock: Clock | None = None,
        resolver: Resolver = resolve,
    ) -> None:
        self.store, self.deliveries, self.settings = store, deliveries, settings
        self.public, self.clock, self.resolver = public_url.rstrip("/"), clock or SystemClock(), resolver

    # ------------------------------------------------------------------------------------------ owner's API
    async def create(self, owner: str, spec: NewSubscription) -> Created:
        v = await validate(spec, self.settings, self.resolver)
        now = self.clock.now()
        base: dict[str, Any] = dict(
            id="sub_" + uuid.uuid4().hex,
            revision=1,
            owner=owner,
            channel=v.channel,
            query=v.query,
            topics=list(v.topics),
            positive_paper_ids=list(v.positive_paper_ids),
            created_at=now,
            updated_at=now,
        )
        if v.channel == "webhook":
            secret = signing.new_secret()
            rec = SubscriptionRecord(
                **base, url=v.url, events=list(v.events), secrets=[WebhookSecret(secret=secret, created_at=now)]
            )
            return Created(await self.store.create(rec), secret)
        rec = SubscriptionRecord(
            **base,
            email=v.email,
            schedule=v.schedule,
            status="pending_confirmation",
            confirm_token=secrets.token_urlsafe(24),
            unsubscribe_token=secrets.token_urlsafe(24),
        )
        assert v.email is not None
        guard = self.confirmation_id(v.email, now)
        if await self.deliveries.get(guard) is not None:
            raise ConfirmationPending(self._period_left(now))
        rec = await self.store.create(rec)
        if not await self.deliveries.enqueue([self.confirmation(rec, now)]):  # a concurrent sign-up won
            await self.store.update(rec.id, lambda r: r.model_copy(update={"status": "deleted", "updated_at": now}))
            raise ConfirmationPending(self._period_left(now))
        return Created(rec)

    async def sign_up(self, email: str, query: str | None = None, topics: tuple[str, ...] = ()) -> bool:
        """An e-mail subscription without a key (double opt-in): False, and nothing sent, when this address had a
        confirmation e-mail in the current sign-up period. Callers answer the same either way, so the answer
        tells nobody whether an address is subscribed."""
        try:
            await self.create(ANONYMOUS, NewSubscription("email", email=email, query=query, topics=topics))
        except ConfirmationPending:
            return False
        return True

    async def list_for(self, owner: str) -> list[SubscriptionRecord]:
        return await self.store.list(owner)

    async def get(self, owner: str, subscription_id: str) -> SubscriptionRecord:
        r = await self.store.get(subscription_id)
        if r is None or r.owner != owner:
            raise SubscriptionNotFound(subscription_id)
        return r

    async def delete(self, owner: str, subscription_id: str) -> None:
        await self.get(owner, subscription_id)
        now = self.clock.now()
        await self.store.update(
            subscription_id, lambda r: r.model_copy(update={"status": "deleted", "updated_at": now})
        )

    async def rotate_secret(self, owner: str, subscription_id: str) -> tuple[str, float]:
        """A new current secret, and until when the previous one keeps signing (both signatures are sent)."""
        r = await self.get(owner, subscription_id)
        if r.channel != "webhook":
            raise SubscriptionInvalid("only a webhook subscription has a signing secret")
        now, new = self.clock.now(), signing.new_secret()
        until = now + self.settings.rotation_grace_s

        def rotate(cur: SubscriptionRecord) -> SubscriptionRecord:
            kept = [s if s.expires_at is not None else s.model_copy(update={"expires_at": until}) for s in cur.secrets]
            kept = [s for s in kept if s.expires_at is not None and s.expires_at > now][:MAX_ROTATED_OUT]
            return cur.model_copy(
                update={"secrets": [WebhookSecret(secret=new, created_at=now), *kept], "updated_at": now}
            )

        await self.store.update(subscription_id, rotate)
        return new, until

    async def test(self, owner: str, subscription_id: str) -> Delivery:
        """Queue a `ping` event (webhooks) now; its attempts show in /deliveries like any other."""
        r = await self.get(owner, subscription_id)
        if r.channel != "webhook":
            raise SubscriptionInvalid("a test ping is for webhook subscriptions")
        now = self.clock.now()
        d = messages.webhook(r, "ping", f"ping:{uuid.uuid4().hex}", {"subscription_id": r.id}, now)
        await self.deliveries.enqueue([d])
        return d

    async def attempts(self, owner: str, subscription_id: str, limit: int = 100) -> list[Attempt]:
        await self.get(owner, subscription_id)
        return await self.deliveries.attempts(subscription_id, limit)

    # ------------------------------------------------------------------------------------------ e-mail links
    async def by_token(
        self, subscription_id: str, token: str, kind: Literal["confirm", "unsubscribe"]
    ) -> SubscriptionRecord:
        """The subscription an e-mailed link names, if its token is right (else SubscriptionNotFound)."""
        r = await self.store.get(subscription_id)
        want = (r.confirm_token if kind == "confirm" else r.unsubscribe_token) if r is not None else None
        if r is None or not want or not hmac.compare_digest(want.encode(), token.encode()):
            raise SubscriptionNotFound(subscription_id)
        return r

    async def confirm(self, subscription_id: str, token: str) -> SubscriptionRecord:
        await self.by_token(subscription_id, token, "confirm")
        now = self.clock.now()
        got = await self.store.update(
            subscription_id,
            lambda r: (
                r.model_copy(update={"status": "active", "confirmed_at": now, "updated_at": now})
                if r.status == "pending_confirmation"
                else None
            ),
        )
        if got is None:  # deleted meanwhile
            raise SubscriptionNotFound(subscription_id)
        return got

    async def unsubscribe(self, subscription_id: str, token: str) -> SubscriptionRecord:
        await self.by_token(subscription_id, token, "unsubscribe")
        now = self.clock.now()
        got = await self.store.update(
            subscription_id,
            lambda r: (
                None
                if r.status == "unsubscribed"
                else r.model_copy(
                    update={
                        "status": "unsubscribed",
                        "status_reason": "unsubscribed by the recipient",
                        "updated_at": now,
                    }
                )
            ),
        )
        if got is None:  # deleted meanwhile
            raise SubscriptionNotFound(subscription_id)
        return got

    def link(self, r: SubscriptionRecord, kind: Literal["confirm", "unsubscribe"]) -> str:
        token = r.confirm_token if kind == "confirm" else r.unsubscribe_token
        return f"{self.public}/v1/subscriptions/{r.id}/{kind}?token={token}"

    def confirmation_id(self, email: str, now: float) -> str:
        """The confirmation e-mail's delivery id: one per address per sign-up period (the outbox stores an id
        once, atomically, so concurrent sign-ups from several gateways send one)."""
        address = hashlib.sha256(valid_email(email).lower().encode()).hexdigest()
        period = math.floor(now / self.settings.signup_period_s)
        return messages.delivery_id(f"confirm:{address}", str(period))

    def _period_left(self, now: float) -> float:
        p = self.settings.signup_period_s
        return (math.floor(now / p) + 1) * p - now

    def confirmation(self, r: SubscriptionRecord, now: float) -> Delivery:
        assert r.email is not None
        text, html = render(
            "confirm", {"email": r.email, "query": r.query, "topics": r.topics, "confirm_url": self.link(r, "confirm")}
        )
        mid = self.confirmation_id(r.email, now)
        body = message(
            sender=self.settings.smtp_from,
            to=r.email,
            subject="Confirm your Paperwire subscription",
            text=text,
            html=html,
            message_id=mid,
            date=now,
        )
        return Delivery(mid, r.id, "email", "confirmation", "confirm", body, now, recipient=r.email)
