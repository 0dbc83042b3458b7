"""Notifier entrypoint: topics.v1 + papers.enriched.v1 -> deliveries in the outbox; the dispatcher sends them; the
digest schedule queues the daily e-mails.

The consumer only *queues* (idempotently: a delivery's id is derived from the subscription and the event, so a
replayed batch queues nothing twice) and commits; sending happens beside it, so a slow endpoint never holds up the
stream. Readiness: the consumer runs, the subscription view has caught up, the index answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

from pydantic import BaseModel

from paperwire_common.backends import Backends
from paperwire_common.clock import Clock, SystemClock
from paperwire_common.consumer import ConsumerLoop
from paperwire_common.deliveries import Delivery
from paperwire_common.envelope import Decoded
from paperwire_common.events import PaperEnriched, TopicEvent
from paperwire_common.logging import get_logger
from paperwire_common.mail.digest import DigestBuilder
from paperwire_common.metrics import NOTIFY_DIGEST_RUN, NOTIFY_DISABLED, NOTIFY_PENDING, NOTIFY_QUEUED
from paperwire_common.search.document import to_document
from paperwire_common.streams import PAPERS_ENRICHED, TOPIC_EVENTS
from paperwire_common.subscriptions.settings import public_url
from paperwire_common.webhooks import messages

from .dispatcher import Dispatcher
from .handlers import topic_targets, wants
from .mailer import Mailer
from .matching import Matching
from .sender import WebhookSender
from .settings import NotifierSettings

NAME = "notifier"
log = get_logger(__name__)


def outbox_dir(settings: NotifierSettings, data_dir: str | None) -> str:
    if settings.outbox_dir:
        return settings.outbox_dir
    return os.path.join(data_dir or ".paperwire", "outbox")


class Notifier:
    def __init__(
        self,
        backends: Backends,
        settings: NotifierSettings | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.b = backends
        self.settings = settings or NotifierSettings()
        self.clock = clock or SystemClock()
        self.group = self.settings.group or f"paperwire-{NAME}"
        self.public = public_url(backends.settings.public_url)
        self.subscriptions, self.deliveries = backends.subscriptions, backends.deliveries
        s = self.settings
        self.sender = WebhookSender(
            s.target_policy(),
            timeout_s=s.timeout_s,
            max_response_bytes=s.max_response_bytes,
            max_connections=s.max_in_flight,
            clock=self.clock,
        )
        self.mailer = Mailer(
            s.smtp_url, s.smtp_from, outbox_dir(s, backends.settings.embedded_data_dir), s.smtp_timeout_s
        )
        self.dispatcher = Dispatcher(self.subscriptions, self.deliveries, self.sender, self.mailer, s, self.clock)
        self.matching = Matching(backends.index, s.recommend_threshold)

    async def _sync(self) -> None:
        await self.matching.sync(await self.subscriptions.list(), self.subscriptions.changes)

    # ------------------------------------------------------------------------------------------ the stream
    async def handle(self, batch: list[Decoded[BaseModel]]) -> list[tuple[Decoded[BaseModel], str]]:
        await self._sync()
        now = self.clock.now()
        subs = list(self.matching.by_id.values())
        out: list[Delivery] = []
        papers: list[PaperEnriched] = []
        for d in batch:
            ev = d.event
            if isinstance(ev, TopicEvent):
                data = messages.topic_data(ev, self.public)
                out += [messages.webhook(s, ev.kind, ev.id, data, now) for s in topic_targets(ev, subs)]
            elif isinstance(ev, PaperEnriched):
                papers.append(ev)
        if papers:
            out += await self._paper_deliveries(papers, now)
        if out:
            n = await self.deliveries.enqueue(out)
            for dl in out:
                NOTIFY_QUEUED.labels(dl.event_type).inc()
            if n:
                self.dispatcher.wake()
        return []

    async def _paper_deliveries(self, papers: list[PaperEnriched], now: float) -> list[Delivery]:
        latest: dict[str, PaperEnriched] = {}
        for p in papers:  # a batch may carry two versions of one paper: the newest counts
            cur = latest.get(p.paper.paper_id)
            if cur is None or p.paper.version >= cur.paper.version:
                latest[p.paper.paper_id] = p
        docs = {pid: to_document(e) for pid, e in latest.items()}
        out: list[Delivery] = []
        by_id = self.matching.by_id
        for pid, sub_ids in (await self.matching.percolator.match(list(docs.values()))).items():
            e = latest[pid]
            for sid in sub_ids:
                sub = by_id.get(sid)
                if sub is not None and wants(sub, "search.match", e.enriched_at):
                    data = {**messages.paper_data(docs[pid], self.public), "query": sub.query}
                    out.append(messages.webhook(sub, "search.match", f"search.match:{pid}", data, now))
        for r in self.matching.recommend(list(latest.values())):
            sub = by_id.get(r.subscription_id)
            e = latest[r.paper_id]
            if sub is not None and wants(sub, "paper.recommended", e.enriched_at):
                data = {
                    **messages.paper_data(docs[r.paper_id], self.public),
                    "similarity": r.similarity,
                    "nearest_library_paper_id": r.nearest_id,
                }
                out.append(messages.webhook(sub, "paper.recommended", f"paper.recommended:{r.paper_id}", data, now))
        return out

    def loop(self) -> ConsumerLoop:
        consumer = self.b.bus.consumer(self.group, [TOPIC_EVENTS.name, PAPERS_ENRICHED.name])
        return ConsumerLoop(
            service=NAME,
            group=self.group,
            consumer=consumer,
            producer=self.b.bus,
            handler=self.handle,
            settings=self.settings,
            clock=self.clock,
        )

    # ------------------------------------------------------------------------------------------ beside it
    def digest_builder(self) -> DigestBuilder:
        return DigestBuilder(self.b.index, self.b.trends, self.b.topics, self.settings, self.public)

    async def digest_once(self) -> int:
        n = await self.digest_builder().queue_due(self.subscriptions, self.deliveries, self.clock.now(), scheduled=True)
        NOTIFY_DIGEST_RUN.set(self.clock.now())
        if n:
            log.info("notifier.digests_queued", digests=n)
            self.dispatcher.wake()
        return n

    async def _every(self, seconds: float, stop: asyncio.Event, job: Any, name: str) -> None:
        while not stop.is_set():
            try:
                await job()
            except Exception as e:
                log.error(f"notifier.{name}_failed", error=repr(e))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=seconds)

    async def _gauges(self) -> None:
        NOTIFY_PENDING.set(await self.deliveries.pending())
        subs = await self.subscriptions.list()
        NOTIFY_DISABLED.set(sum(1 for s in subs if s.channel == "webhook" and s.status == "disabled"))

    async def run_deliveries(self, stop: asyncio.Event) -> None:
        """Beside the consumer (a registered task): the dispatcher, the digest schedule and the gauges, until stop
        (in-flight attempts finish first)."""
        log.info("notifier.delivering", email=self.mailer.target, public_url=self.public)
        tasks = [
            asyncio.create_task(self.dispatcher.run(stop), name="notifier-dispatch"),
            asyncio.create_task(self._every(5.0, stop, self._gauges, "gauges"), name="notifier-gauges"),
        ]
        if self.settings.digest_enabled:
            # The alert's clock starts now: every process exports this gauge (one registry), at 0 unless it runs a
            # digest schedule, and the rule ignores zeros; a schedule that never completes still alerts in 25 h.
            NOTIFY_DIGEST_RUN.set(self.clock.now())
            tasks.append(
                asyncio.create_task(
                    self._every(self.settings.digest_check_interval_s, stop, self.digest_once, "digest"),
                    name="notifier-digest",
                )
            )
        try:
            await asyncio.gather(*tasks)
        finally:
            await self.sender.close()

    async def ready(self) -> dict[str, bool]:
        """The registered readiness check, beside the consumer's: this process's subscription view is live."""
        return {"subscriptions": await self.subscriptions.ready()}
