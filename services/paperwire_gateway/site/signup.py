"""What the /subscribe pages need of the notifier: anonymous e-mail sign-up for the daily digest with double
opt-in, and the two links its e-mails carry (confirm, unsubscribe). A browser cannot hold an API key, so this is
the public side of the subscriptions API; its adapter (next to the notifier's subscription service) rate-limits
per client and per address, answers the same whether or not the address is already subscribed, and sends the
confirmation e-mail. The gateway runs without one until the notifier provides it: the page then says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class SignupRejected(ValueError):
    """The form cannot become a subscription (HTTP 422); the message says what to fix."""


class SignupLimited(Exception):
    """Too many sign-ups from this client or for this address (HTTP 429); the message says when to retry."""


class SignupLinkInvalid(KeyError):
    """A confirm or unsubscribe link that names no subscription or carries the wrong token (HTTP 404)."""


class EmailSignup(Protocol):
    async def sign_up(self, email: str, *, topics: Sequence[str], query: str | None, client: str) -> None:
        """Create a pending daily-digest subscription and send its confirmation e-mail (nothing else is sent to
        the address until its link is followed). `client` is the requester's address, for rate limits."""
        ...

    async def confirm(self, subscription_id: str, token: str) -> str:
        """Follow a confirmation link; the subscription's status after it (`active`, or `unsubscribed` when it
        was withdrawn first)."""
        ...

    async def unsubscribe(self, subscription_id: str, token: str) -> str:
        """Follow an unsubscribe link (idempotent); the status after it (`unsubscribed`)."""
        ...
