"""Notifier settings (env prefix PAPERWIRE_NOTIFIER_): the shared notification settings plus delivery tuning."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from paperwire_common.settings import ConsumerSettings
from paperwire_common.subscriptions.settings import DAY, NotifySettings

# Svix's schedule: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (8 attempts over ~27 h).
SVIX_SCHEDULE = "0,5,300,1800,7200,18000,36000,36000"


class NotifierSettings(ConsumerSettings, NotifySettings):
    model_config = SettingsConfigDict(env_prefix="PAPERWIRE_NOTIFIER_", extra="ignore")

    batch_size: int = Field(500, ge=1, le=10_000, description="papers / topic events per polled batch")
    retry_schedule_s: str = Field(
        SVIX_SCHEDULE,
        description="delay before each attempt (comma-separated seconds; the first is the initial attempt's); "
        "after the last attempt fails the delivery is dead-lettered",
    )
    timeout_s: float = Field(15.0, gt=0, le=300, description="one webhook attempt: connect + response")
    max_response_bytes: int = Field(65_536, ge=0, description="at most this much of a response body is read")
    max_in_flight: int = Field(256, ge=1, le=10_000, description="webhook attempts in flight, all endpoints")
    max_in_flight_per_endpoint: int = Field(8, ge=1, le=1000, description="attempts in flight to one subscription")
    max_emails_in_flight: int = Field(4, ge=1, le=100, description="SMTP sends in flight")
    disable_after_s: float = Field(
        5 * DAY, gt=0, description="an endpoint failing this long with no success is disabled (with the reason)"
    )
    poll_interval_s: float = Field(0.5, gt=0, le=60, description="how often due deliveries are looked for")
    lease_s: float = Field(
        0.0, ge=0, description="how long a claimed delivery is held by one attempt (0 = timeout + 30 s)"
    )
    smtp_url: str | None = Field(
        None,
        description="smtp://user:pass@host:587 (STARTTLS when offered; ?starttls=require to insist), smtps://… for "
        "implicit TLS; unset = e-mails are written as .eml files to the outbox directory",
    )
    smtp_timeout_s: float = Field(30.0, gt=0, description="one SMTP send")
    outbox_dir: str | None = Field(
        None, description="where e-mails go without SMTP (default <PAPERWIRE_EMBEDDED_DATA_DIR>/outbox)"
    )
    digest_enabled: bool = Field(True, description="send the daily digest at PAPERWIRE_NOTIFIER_DIGEST_HOUR_UTC")
    digest_check_interval_s: float = Field(60.0, gt=0, description="how often the digest schedule is checked")
    recommend_threshold: float = Field(
        0.6,
        ge=-1,
        le=1,
        description="paper.recommended when a new paper's cosine similarity to the nearest paper of the "
        "subscription's library (positivePaperIds) is at least this",
    )

    @field_validator("retry_schedule_s")
    @classmethod
    def _schedule(cls, v: str) -> str:
        parts = [float(x) for x in v.split(",") if x.strip()]
        if not parts or any(p < 0 for p in parts):
            raise ValueError("retry_schedule_s: comma-separated non-negative seconds, at least one")
        return v

    def schedule(self) -> list[float]:
        return [float(x) for x in self.retry_schedule_s.split(",") if x.strip()]

    def lease(self) -> float:
        return self.lease_s or self.timeout_s + 30.0
