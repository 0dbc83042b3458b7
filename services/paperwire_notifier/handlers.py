"""Pure notifier logic, no I/O: which subscriptions an event goes to, and what an attempt's outcome means."""

from __future__ import annotations

import email.utils
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from paperwire_common.events import SubscriptionRecord, TopicEvent

MAX_RETRY_AFTER_S = 86_400.0


@dataclass(frozen=True)
class Result:
    """One attempt as the transport saw it."""

    ok: bool
    latency_s: float
    status_code: int | None = None  # HTTP status, or the SMTP reply code
    error: str | None = None  # timeout, connection error, refused target, SMTP error
    retry_after_s: float | None = None
    permanent: bool = False  # retrying cannot help (a 4xx, an SMTP 5xx)
    gone: bool = False  # 410: the endpoint says it is gone for good

    def describe(self) -> str:
        if self.error:
            return self.error if self.status_code is None else f"{self.status_code} {self.error}"
        return f"HTTP {self.status_code}"


@dataclass(frozen=True)
class Outcome:
    kind: Literal["delivered", "retry", "dead"]
    next_attempt_at: float | None = None
    reason: str | None = None
    disable: str | None = None  # why the subscription must be disabled now


def decide(result: Result, attempt: int, schedule: Sequence[float], now: float) -> Outcome:
    """attempt: the number of the attempt just made (1-based); schedule[i]: the wait before attempt i + 1."""
    if result.ok:
        return Outcome("delivered")
    if result.gone:
        why = f"410 Gone from the endpoint at attempt {attempt}: subscription disabled"
        return Outcome("dead", reason=why, disable="the endpoint answered 410 Gone")
    if result.permanent:
        return Outcome(
            "dead", reason=f"{result.describe()}: not retried (only timeouts, connection errors, 429 and 5xx are)"
        )
    if attempt >= len(schedule):
        return Outcome("dead", reason=f"{attempt} attempts failed; last: {result.describe()}")
    delay = schedule[attempt]
    if result.retry_after_s is not None:
        delay = max(delay, min(result.retry_after_s, MAX_RETRY_AFTER_S))
    return Outcome("retry", next_attempt_at=now + delay)


def retry_after(value: str | None, now: float) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    v = value.strip()
    if v.isdigit():
        return float(v)
    try:
        when = email.utils.parsedate_to_datetime(v)
    except (TypeError, ValueError):
        return None
    secs = when.timestamp() - now
    return max(secs, 0.0) if math.isfinite(secs) else None


def http_result(status: int, latency_s: float, retry_after_s: float | None) -> Result:
    if 200 <= status < 300:
        return Result(True, latency_s, status)
    if status == 410:
        return Result(False, latency_s, status, gone=True)
    retryable = status == 429 or status >= 500
    err = "redirect not followed" if 300 <= status < 400 else None
    return Result(False, latency_s, status, err, retry_after_s, permanent=not retryable)


def _topic_filter(sub: SubscriptionRecord, topic_id: str, label: str) -> bool:
    if not sub.topics:
        return True
    want = {t.lower() for t in sub.topics}
    return topic_id.lower() in want or label.lower() in want


def topic_targets(ev: TopicEvent, subs: Iterable[SubscriptionRecord]) -> list[SubscriptionRecord]:
    """Active webhook subscriptions of this event's kind whose topics filter lets it through, created before the
    topic was detected (a new subscriber does not get the history of topics.v1)."""
    return [
        s
        for s in subs
        if s.channel == "webhook"
        and s.status == "active"
        and ev.kind in s.events
        and s.created_at <= ev.detected_at
        and _topic_filter(s, ev.topic_id, ev.label)
    ]


def wants(sub: SubscriptionRecord | None, event_type: str, at: float) -> bool:
    return (
        sub is not None
        and sub.channel == "webhook"
        and sub.status == "active"
        and event_type in sub.events
        and sub.created_at <= at
    )
