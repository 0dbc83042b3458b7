"""DeliveryStore port: the durable outbox of notifications (webhooks and e-mails) and each attempt's record.

A delivery is one event for one subscription; its id is the webhook-id, the same on every attempt. Lifecycle:
`enqueue` (an id already stored is skipped, so replays and a second notifier enqueue nothing twice) -> `claim`
(due now: its due time moves to now + lease, so no other process takes it while the attempt runs, and a process
killed mid-attempt leaves it to be claimed again once the lease ends) -> `record` (the attempt's outcome:
`pending` again with its next due time, `delivered`, or `dead` with the reason). A delivered delivery is never
claimed again; `record` on a delivery that is no longer pending changes nothing and returns False.

Contract (tests/contract/test_delivery_store.py runs it against every adapter): the above, plus the attempt log per
subscription (newest first), the dead letters, the count of pending deliveries, and endpoint failure spans.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

Channel = Literal["webhook", "email"]
Status = Literal["pending", "delivered", "dead"]


@dataclass(frozen=True)
class Delivery:
    id: str
    subscription_id: str
    channel: Channel
    event_type: str
    event_id: str
    body: bytes  # the webhook's JSON body, or the e-mail's RFC 5322 message
    created_at: float
    recipient: str | None = None
    attempts: int = 0
    status: Status = "pending"
    next_attempt_at: float | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Attempt:
    delivery_id: str
    subscription_id: str
    event_type: str
    attempt: int  # 1-based
    at: float
    outcome: Literal["delivered", "retry", "dead"]
    latency_s: float
    status_code: int | None = None
    error: str | None = None
    next_attempt_at: float | None = None
    event_id: str | None = None  # the event delivered (e.g. the topic event's id, search.match:<paper id>)


@dataclass(frozen=True)
class Claim:
    """How many deliveries of each channel a claim may take, subscriptions to pass over, and at most how many of
    one subscription (`per_subscription` minus what is `busy` already: the attempts in flight)."""

    limits: dict[str, int] = field(default_factory=dict)  # channel -> max
    skip: Collection[str] = ()
    per_subscription: int | None = None
    busy: Mapping[str, int] = field(default_factory=dict)

    def room(self, subscription_id: str) -> int:
        if subscription_id in self.skip:
            return 0
        if self.per_subscription is None:
            return 1 << 30
        return self.per_subscription - self.busy.get(subscription_id, 0)


class DeliveryStore(Protocol):
    async def enqueue(self, deliveries: Sequence[Delivery]) -> int:
        """Store new deliveries, due at their `next_attempt_at` (or created_at); returns how many were new."""
        ...

    async def claim(self, now: float, claim: Claim, lease_s: float) -> list[Delivery]:
        """Due pending deliveries (oldest due first) within the limits; each is leased until now + lease_s."""
        ...

    async def record(self, attempt: Attempt, *, reason: str | None = None) -> bool:
        """Store the attempt and move the delivery (retry at attempt.next_attempt_at, delivered, or dead)."""
        ...

    async def get(self, delivery_id: str) -> Delivery | None: ...

    async def attempts(self, subscription_id: str, limit: int = 100) -> list[Attempt]:
        """The subscription's attempts, newest first."""
        ...

    async def dead_letters(self, limit: int = 100) -> list[Delivery]:
        """Dead deliveries, newest first."""
        ...

    async def pending(self) -> int: ...

    async def endpoint_failed(self, subscription_id: str, now: float) -> float:
        """Note a failed attempt; returns since when the endpoint has been failing without a success."""
        ...

    async def endpoint_succeeded(self, subscription_id: str) -> None: ...


def attempt_dict(a: Attempt) -> dict[str, object]:
    return {k: getattr(a, k) for k in Attempt.__dataclass_fields__}
