"""Notification settings both the gateway (creating subscriptions, queueing digests) and the notifier read; env
prefix PAPERWIRE_NOTIFIER_ (the notifier's NotifierSettings extends this class)."""

from __future__ import annotations

import os

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..webhooks.ssrf import TargetPolicy

HOUR, DAY = 3600.0, 86_400.0


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAPERWIRE_NOTIFIER_", extra="ignore")

    allow_http: bool = Field(False, description="allow http:// webhook URLs (default: https only)")
    allow_networks: str = Field(
        "",
        description="comma-separated CIDRs webhooks may reach although private/loopback (e.g. 10.0.0.0/8 for an "
        "intranet, 127.0.0.0/8 for local receivers)",
    )
    rotation_grace_s: float = Field(
        DAY, ge=0, allow_inf_nan=False, description="after a secret rotation, the old secret also signs this long"
    )
    digest_hour_utc: int = Field(7, ge=0, le=23, description="hour (UTC) at which the daily digest is sent")
    digest_size: int = Field(10, ge=1, le=50, description="papers in one digest e-mail")
    smtp_from: str = Field("Paperwire <digest@paperwire.localhost>", description="From: of every e-mail")
    signup_period_s: float = Field(
        DAY,
        ge=60,
        allow_inf_nan=False,
        description="at most one confirmation e-mail per address in this period (sign-ups beyond it send nothing)",
    )
    retention_s: float = Field(30 * DAY, gt=0, description="delivered / dead deliveries are kept this long")

    @field_validator("allow_networks")
    @classmethod
    def _cidrs(cls, v: str) -> str:
        TargetPolicy.of(False, v.split(","))  # raises on a bad CIDR: a clear error at start
        return v

    def target_policy(self) -> TargetPolicy:
        return TargetPolicy.of(self.allow_http, self.allow_networks.split(","))


def public_url(configured: str | None) -> str:
    """Base of every link Paperwire sends (PAPERWIRE_PUBLIC_URL), by default the gateway's own address."""
    if configured:
        return configured.rstrip("/")
    host = os.environ.get("PAPERWIRE_GATEWAY_HOST") or "127.0.0.1"
    if host in ("0.0.0.0", "::"):
        host = "localhost"
    return f"http://{host}:{os.environ.get('PAPERWIRE_GATEWAY_PORT') or 8000}"
