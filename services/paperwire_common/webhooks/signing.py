"""Standard Webhooks signatures (https://www.standardwebhooks.com/): what a receiver verifies.

    webhook-id:        msg_<…>, the same on every retry of one event to one subscription (receivers dedupe on it)
    webhook-timestamp: integer seconds of this attempt (receivers refuse stale ones, usually > 5 min)
    webhook-signature: "v1,<base64 HMAC-SHA256(key, f'{id}.{timestamp}.{body}')>", space-separated when several
                       secrets are valid (a rotation's grace period): the current secret first

The key is the base64-decoded part of the `whsec_<base64>` secret. Tests verify with the third-party
`standardwebhooks` package, never with this module.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

from ..events import WebhookSecret

PREFIX = "whsec_"
KEY_BYTES = 24  # Svix's size: 192 bits


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    if not secret.startswith(PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    return base64.b64decode(secret.removeprefix(PREFIX))


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def valid_secrets(all_secrets: Sequence[WebhookSecret], now: float) -> list[str]:
    """The secrets that sign at `now`: the current one, then rotated-out ones still in their grace period."""
    return [s.secret for s in all_secrets if s.expires_at is None or s.expires_at > now]


def headers(all_secrets: Sequence[WebhookSecret], msg_id: str, now: float, body: bytes) -> dict[str, str]:
    ts = int(now)
    sigs = " ".join(signature(s, msg_id, ts, body) for s in valid_secrets(all_secrets, now))
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": sigs}
