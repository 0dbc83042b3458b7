"""SubscriptionStore port: every subscription's current state (events.SubscriptionRecord), owner-scoped reads.

Contract (tests/contract/test_subscription_store.py runs it against every adapter):
- `create` stores revision 1; `update` is an atomic read-modify-write: the change function sees the latest state
  (also one written by another process) and the stored revision is the previous one plus one;
- a record with status `deleted` is gone for `get` and `list`;
- a subscription is durable: another instance of the adapter on the same storage (a restarted process) sees it;
- `changes` grows whenever the set of subscriptions or any of them changed (the notifier rebuilds its
  percolation index and routing tables when it moves).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..events import SubscriptionRecord

# Returns the new state, or None to leave the subscription unchanged.
Change = Callable[[SubscriptionRecord], SubscriptionRecord | None]


class SubscriptionStore(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ready(self) -> bool:
        """Reads and writes are served (on Kafka: the view has caught up and its reader runs)."""
        ...

    async def create(self, record: SubscriptionRecord) -> SubscriptionRecord: ...

    async def update(self, subscription_id: str, change: Change) -> SubscriptionRecord | None:
        """Apply `change` to the latest state atomically; the stored record (None when there is none)."""
        ...

    async def get(self, subscription_id: str) -> SubscriptionRecord | None: ...

    async def list(self, owner: str | None = None) -> list[SubscriptionRecord]:
        """Every live subscription (of one owner), oldest first."""
        ...

    @property
    def changes(self) -> int: ...


def live(r: SubscriptionRecord | None) -> SubscriptionRecord | None:
    return r if r is not None and r.status != "deleted" else None


def next_revision(old: SubscriptionRecord, new: SubscriptionRecord) -> SubscriptionRecord:
    return new.model_copy(update={"revision": old.revision + 1, "id": old.id, "owner": old.owner})
