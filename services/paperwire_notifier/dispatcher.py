"""The delivery loop: claim due deliveries from the outbox, attempt each in its own task, record the outcome.

No head-of-line blocking: a claim takes at most `max_in_flight_per_endpoint` minus what is already in flight for a
subscription, and at most the free global slots, so a slow or dead endpoint holds only its own slots (each attempt
bounded by the timeout) while every other endpoint's deliveries go on. A claim leases its deliveries; a process
killed mid-attempt leaves them to be claimed again when the lease ends, and state survives in the store, so retries
go on after a restart. An endpoint failing for `disable_after_s` with no success, or answering 410, is disabled,
with the reason on the subscription (its owner sees it in GET /v1/subscriptions/{id}).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

from paperwire_common.clock import Clock, SystemClock, iso
from paperwire_common.deliveries.port import Attempt, Claim, Delivery, DeliveryStore
from paperwire_common.events import SubscriptionRecord
from paperwire_common.logging import get_logger
from paperwire_common.metrics import NOTIFY_ATTEMPT_SECONDS, NOTIFY_ATTEMPTS, NOTIFY_EMAILS
from paperwire_common.subscriptions.port import SubscriptionStore

from .handlers import Outcome, Result, decide
from .mailer import Mailer
from .sender import WebhookSender
from .settings import NotifierSettings

log = get_logger(__name__)


class Dispatcher:
    def __init__(
        self,
        subscriptions: SubscriptionStore,
        deliveries: DeliveryStore,
        sender: WebhookSender,
        mailer: Mailer,
        settings: NotifierSettings,
        clock: Clock | None = None,
    ) -> None:
        self.subs, self.deliveries, self.sender, self.mailer = subscriptions, deliveries, sender, mailer
        self.settings, self.clock = settings, clock or SystemClock()
        self.schedule = settings.schedule()
        self.busy: Counter[str] = Counter()  # subscription -> webhook attempts in flight
        self.emails_busy = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """New deliveries were queued in this process: look now rather than at the next poll."""
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def dispatch_once(self) -> int:
        s = self.settings
        webhooks_free = s.max_in_flight - sum(self.busy.values())
        emails_free = s.max_emails_in_flight - self.emails_busy
        claim = Claim(
            {"webhook": webhooks_free, "email": emails_free},
            per_subscription=s.max_in_flight_per_endpoint,
            busy=dict(self.busy),
        )
        claimed = await self.deliveries.claim(self.clock.now(), claim, s.lease())
        for d in claimed:
            if d.channel == "webhook":
                self.busy[d.subscription_id] += 1
            else:
                self.emails_busy += 1
            task = asyncio.create_task(self._attempt(d), name=f"deliver-{d.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(claimed)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                n = await self.dispatch_once()
            except Exception as e:  # the store is down: try again at the next tick
                log.error("notifier.claim_failed", error=repr(e))
                n = 0
            if n == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._first(stop), timeout=self.settings.poll_interval_s)
        await self.drain()

    async def _first(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    async def drain(self, timeout_s: float | None = None) -> None:
        """Wait for the attempts in flight (each is bounded by the timeout)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s or self.settings.timeout_s + 5)

    async def _attempt(self, d: Delivery) -> None:
        try:
            sub = await self.subs.get(d.subscription_id)
            if d.channel == "email":
                await self._email(d, sub)
            else:
                await self._webhook(d, sub)
        except Exception as e:  # recorded nothing: the lease ends and the delivery is claimed again
            log.error("notifier.attempt_crashed", delivery=d.id, error=repr(e))
        finally:
            if d.channel == "webhook":
                self.busy[d.subscription_id] -= 1
                if self.busy[d.subscription_id] <= 0:
                    del self.busy[d.subscription_id]
            else:
                self.emails_busy -= 1

    async def _record(self, d: Delivery, result: Result, outcome: Outcome) -> None:
        now = self.clock.now()
        attempt = Attempt(
            delivery_id=d.id,
            subscription_id=d.subscription_id,
            event_type=d.event_type,
            attempt=d.attempts + 1,
            at=now,
            outcome=outcome.kind,
            latency_s=round(result.latency_s, 6),
            status_code=result.status_code,
            error=result.error,
            next_attempt_at=outcome.next_attempt_at,
            event_id=d.event_id,
        )
        if await self.deliveries.record(attempt, reason=outcome.reason):
            NOTIFY_ATTEMPTS.labels(d.event_type, outcome.kind).inc()
            NOTIFY_ATTEMPT_SECONDS.labels(d.channel).observe(result.latency_s)
            if outcome.kind == "dead":
                log.warning(
                    "notifier.dead_lettered",
                    delivery=d.id,
                    subscription=d.subscription_id,
                    event_type=d.event_type,
                    reason=outcome.reason,
                )

    async def _refuse(self, d: Delivery, why: str) -> None:
        await self._record(d, Result(False, 0.0, error=why, permanent=True), Outcome("dead", reason=why))

    async def _webhook(self, d: Delivery, sub: SubscriptionRecord | None) -> None:
        if sub is None or sub.status != "active":
            state = (
                "deleted" if sub is None else f"{sub.status}" + (f" ({sub.status_reason})" if sub.status_reason else "")
            )
            await self._refuse(d, f"not sent: the subscription is {state}")
            return
        result = await self.sender.send(sub, d)
        outcome = decide(result, d.attempts + 1, self.schedule, self.clock.now())
        await self._record(d, result, outcome)
        if result.ok:
            await self.deliveries.endpoint_succeeded(sub.id)
            return
        now = self.clock.now()
        since = await self.deliveries.endpoint_failed(sub.id, now)
        if outcome.disable:
            await self.disable(sub.id, f"{outcome.disable} ({iso(now)})")
        elif now - since >= self.settings.disable_after_s:
            await self.disable(
                sub.id,
                f"failing since {iso(since)} with no success for "
                f"{self.settings.disable_after_s:g}s; last: {result.describe()}",
            )

    async def disable(self, subscription_id: str, reason: str) -> None:
        now = self.clock.now()
        got = await self.subs.update(
            subscription_id,
            lambda r: (
                r.model_copy(update={"status": "disabled", "status_reason": reason, "updated_at": now})
                if r.status == "active"
                else None
            ),
        )
        log.warning(
            "notifier.endpoint_disabled",
            subscription=subscription_id,
            reason=reason,
            done=got is not None and got.status == "disabled",
        )

    async def _email(self, d: Delivery, sub: SubscriptionRecord | None) -> None:
        want = "pending_confirmation" if d.event_type == "confirmation" else "active"
        if sub is None or sub.status != want:
            await self._refuse(d, f"not sent: the subscription is {sub.status if sub else 'deleted'}")
            NOTIFY_EMAILS.labels(d.event_type, "failed").inc()
            return
        result = await self.mailer.send(d)
        await self._record(d, result, decide(result, d.attempts + 1, self.schedule, self.clock.now()))
        NOTIFY_EMAILS.labels(d.event_type, "sent" if result.ok else "failed").inc()
