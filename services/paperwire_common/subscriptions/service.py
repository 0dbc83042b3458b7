"""What the gateway's subscription routes call: validation (the SSRF guard, the query language), secrets and
tokens, owner scoping (an owner sees and changes only its own: anyone else's id is a 404), the confirmation e-mail
and the test ping. Errors: SubscriptionInvalid (422 with the reason), SubscriptionNotFound (404), TokenInvalid (404)."""

from __future__ import annotations

import hmac
import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from ..clock import Clock, SystemClock
from ..deliveries.port import Attempt, Delivery, DeliveryStore
from ..events import NotifyEventType, SubscriptionRecord, WebhookSecret
from ..mail.compose import message, render
from ..percolator.compiled import empty
from ..search.query import QuerySyntaxError, parse
from ..webhooks import messages, signing
from ..webhooks.ssrf import Resolver, UnsafeTarget, check_url, resolve
from .port import SubscriptionStore
from .settings import NotifySettings

EVENT_TYPES: tuple[NotifyEventType, ...] = ("topic.created", "topic.trending", "search.match", "paper.recommended")
_EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$")


class SubscriptionInvalid(ValueError):
    """The request cannot become a subscription (HTTP 422); the message says why."""


class SubscriptionNotFound(KeyError):
    pass


@dataclass(frozen=True)
class NewSubscription:
    channel: Literal["webhook", "email"]
    url: str | None = None
    email: str | None = None
    events: tuple[str, ...] = ()
    query: str | None = None
    topics: tuple[str, ...] = ()
    positive_paper_ids: tuple[str, ...] = ()
    schedule: Literal["daily"] | None = None


@dataclass
class Created:
    subscription: SubscriptionRecord
    secret: str | None = None  # shown once (webhooks)
    extra: dict[str, Any] = field(default_factory=dict)


def public_view(r: SubscriptionRecord) -> dict[str, Any]:
    """What an owner may read back: never a secret or a token."""
    out: dict[str, Any] = {
        "id": r.id,
        "channel": r.channel,
        "status": r.status,
        "status_reason": r.status_reason,
        "events": list(r.events),
        "query": r.query,
        "topics": list(r.topics),
        "positivePaperIds": list(r.positive_paper_ids),
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    }
    if r.channel == "webhook":
        out["url"] = r.url
    else:
        out |= {"email": r.email, "schedule": r.schedule, "confirmed_at": r.confirmed_at}
    return out


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

    # ------------------------------------------------------------------------------------------ validation
    async def _validate(self, spec: NewSubscription) -> NewSubscription:
        query = (spec.query or "").strip() or None
        if query is not None:
            try:
                parse(query)
            except QuerySyntaxError as e:
                raise SubscriptionInvalid(f"query: {e}") from None
            if empty(query):
                raise SubscriptionInvalid("query: has no term (it would match every paper)")
        topics = tuple(dict.fromkeys(t.strip() for t in spec.topics if t.strip()))
        library = tuple(dict.fromkeys(p.strip() for p in spec.positive_paper_ids if p.strip()))
        if spec.channel == "webhook":
            if not spec.url:
                raise SubscriptionInvalid("url: a webhook subscription needs the endpoint's url")
            try:
                await check_url(spec.url, self.settings.target_policy(), self.resolver)
            except UnsafeTarget as e:
                raise SubscriptionInvalid(f"url: {e}") from None
            events = tuple(dict.fromkeys(spec.events))
            if not events:
                raise SubscriptionInvalid(f"events: name at least one of {', '.join(EVENT_TYPES)}")
            unknown = [e for e in events if e not in EVENT_TYPES]
            if unknown:
                raise SubscriptionInvalid(f"events: unknown {unknown}; known: {', '.join(EVENT_TYPES)}")
            if "search.match" in events and query is None:
                raise SubscriptionInvalid("query: search.match needs a saved search in `query`")
            if "paper.recommended" in events and not library:
                raise SubscriptionInvalid("positivePaperIds: paper.recommended needs a library of paper ids")
            return NewSubscription(
                "webhook", url=spec.url, events=events, query=query, topics=topics, positive_paper_ids=library
            )
        if not spec.email or not _EMAIL.match(spec.email.strip()):
            raise SubscriptionInvalid("email: not an e-mail address")
        if spec.events:
            raise SubscriptionInvalid("events: an e-mail subscription gets the daily digest; events are for webhooks")
        return NewSubscription(
            "email",
            email=spec.email.strip(),
            query=query,
            topics=topics,
            positive_paper_ids=library,
            schedule=spec.schedule or "daily",
        )

    # ------------------------------------------------------------------------------------------ owner's API
    async def create(self, owner: str, spec: NewSubscription) -> Created:
        v = await self._validate(spec)
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
        rec = await self.store.create(rec)
        await self.deliveries.enqueue([self.confirmation(rec, now)])
        return Created(rec)

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

    async def rotate_secret(self, owner: str, subscription_id: str) -> str:
        """A new current secret; the previous one keeps signing for the grace period (both signatures are sent)."""
        r = await self.get(owner, subscription_id)
        if r.channel != "webhook":
            raise SubscriptionInvalid("only a webhook subscription has a signing secret")
        now, new = self.clock.now(), signing.new_secret()
        until = now + self.settings.rotation_grace_s

        def rotate(cur: SubscriptionRecord) -> SubscriptionRecord:
            kept = [s if s.expires_at is not None else s.model_copy(update={"expires_at": until}) for s in cur.secrets]
            kept = [s for s in kept if s.expires_at is not None and s.expires_at > now]
            return cur.model_copy(
                update={"secrets": [WebhookSecret(secret=new, created_at=now), *kept], "updated_at": now}
            )

        await self.store.update(subscription_id, rotate)
        return new

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
    async def _by_token(self, subscription_id: str, token: str, kind: str) -> SubscriptionRecord:
        r = await self.store.get(subscription_id)
        want = (r.confirm_token if kind == "confirm" else r.unsubscribe_token) if r is not None else None
        if r is None or not want or not hmac.compare_digest(want.encode(), token.encode()):
            raise SubscriptionNotFound(subscription_id)
        return r

    async def confirm(self, subscription_id: str, token: str) -> SubscriptionRecord:
        await self._by_token(subscription_id, token, "confirm")
        now = self.clock.now()
        got = await self.store.update(
            subscription_id,
            lambda r: (
                r.model_copy(update={"status": "active", "confirmed_at": now, "updated_at": now})
                if r.status == "pending_confirmation"
                else None
            ),
        )
        assert got is not None
        return got

    async def unsubscribe(self, subscription_id: str, token: str) -> SubscriptionRecord:
        await self._by_token(subscription_id, token, "unsubscribe")
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
        assert got is not None
        return got

    def link(self, r: SubscriptionRecord, kind: Literal["confirm", "unsubscribe"]) -> str:
        token = r.confirm_token if kind == "confirm" else r.unsubscribe_token
        return f"{self.public}/v1/subscriptions/{r.id}/{kind}?token={token}"

    def confirmation(self, r: SubscriptionRecord, now: float) -> Delivery:
        assert r.email is not None
        text, html = render(
            "confirm", {"email": r.email, "query": r.query, "topics": r.topics, "confirm_url": self.link(r, "confirm")}
        )
        mid = messages.delivery_id(r.id, "confirm")
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
