"""What may become a subscription: the SSRF guard on a webhook's URL, the saved search in the query language, the
event types, an e-mail address. `validate` returns the normalised request or raises SubscriptionInvalid with the
reason (the gateway answers 422 with it)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ..events import NotifyEventType
from ..percolator.compiled import empty
from ..search.query import QuerySyntaxError, parse
from ..webhooks.ssrf import Resolver, UnsafeTarget, check_url
from .settings import NotifySettings

EVENT_TYPES: tuple[NotifyEventType, ...] = ("topic.created", "topic.trending", "search.match", "paper.recommended")
# Also the request schemas' `pattern` (an ECMA-262 regex as much as a Python one).
EMAIL_PATTERN = r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$"
_EMAIL = re.compile(EMAIL_PATTERN)


class SubscriptionInvalid(ValueError):
    """The request cannot become a subscription (HTTP 422); the message says why."""


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


def valid_query(query: str | None) -> str | None:
    q = (query or "").strip() or None
    if q is None:
        return None
    try:
        parse(q)
    except QuerySyntaxError as e:
        raise SubscriptionInvalid(f"query: {e}") from None
    except RecursionError:
        raise SubscriptionInvalid("query: nested too deeply") from None
    if empty(q):
        raise SubscriptionInvalid("query: has no term (it would match every paper)")
    return q


def valid_email(address: str | None) -> str:
    a = (address or "").strip()
    if not _EMAIL.match(a):
        raise SubscriptionInvalid("email: not an e-mail address")
    return a


async def validate(spec: NewSubscription, settings: NotifySettings, resolver: Resolver) -> NewSubscription:
    query = valid_query(spec.query)
    topics = tuple(dict.fromkeys(t.strip() for t in spec.topics if t.strip()))
    library = tuple(dict.fromkeys(p.strip() for p in spec.positive_paper_ids if p.strip()))
    if spec.channel == "webhook":
        if not spec.url:
            raise SubscriptionInvalid("url: a webhook subscription needs the endpoint's url")
        try:
            await check_url(spec.url, settings.target_policy(), resolver)
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
    email = valid_email(spec.email)
    if spec.events:
        raise SubscriptionInvalid("events: an e-mail subscription gets the daily digest; events are for webhooks")
    return NewSubscription(
        "email", email=email, query=query, topics=topics, positive_paper_ids=library, schedule=spec.schedule or "daily"
    )
