"""Trending entrypoint: engagement.v1 + papers.enriched.v1 + papers.topics.v1 -> time-decayed scores and per-topic
rankings in the TrendStore.

Exactly-once effect on top of at-least-once delivery: the store writes the scores and this group's offsets in
one atomic step and skips records below the stored offsets, so a batch redelivered after a crash (applied, but
the Kafka commit never happened) changes nothing.

Refused events go to the DLQ with the reason and count nothing: a timestamp more than `max_future_s` ahead of
the clock (or not finite, or outside the store's range), a star event without a snapshot or above the maximum
star count (trends.port.MAX_STARS), ids with reserved control characters, events older than the dedupe horizon
of their partition, and anything else the store refuses as out of its bounds. Engagement for a paper not yet
seen on papers.enriched.v1 is *held*, not dead-lettered: it accrues in a pending set and is ranked once the paper
is announced. The two topics are read independently (a rebuild may read all of engagement first):
dead-lettering would lose data.
"""

from __future__ import annotations

import asyncio

from prometheus_client import Counter
from pydantic import BaseModel

from paperwire_common.backends import Backends
from paperwire_common.bus.port import Consumer, TopicPartitionOffsets
from paperwire_common.clock import Clock, SystemClock
from paperwire_common.consumer import ConsumerLoop
from paperwire_common.envelope import Decoded
from paperwire_common.logging import get_logger
from paperwire_common.streams import ENGAGEMENT, PAPER_TOPICS, PAPERS_ENRICHED
from paperwire_common.trends import TrendStore

from .handlers import plan_batch
from .settings import TrendingSettings
from .topic_job import run_periodically

NAME = "trending"
log = get_logger(__name__)

UPDATES = Counter(
    "paperwire_trending_updates_total",
    "Score updates by outcome (applied; skipped: replayed, duplicate or no-op; refused: dead-lettered)",
    ["outcome"],
)


class Trending:
    def __init__(
        self,
        backends: Backends,
        settings: TrendingSettings | None = None,
        clock: Clock | None = None,
        store: TrendStore | None = None,
    ):
        self.b = backends
        self.settings = settings or TrendingSettings()
        self.clock = clock or SystemClock()
        # The store of these backends (make_backends built it): in embedded mode the gateway reads this one.
        self.store = store or backends.trends
        # The group names both the Kafka commits and the offsets the store keeps atomically with the scores.
        self.group = self.settings.group or f"paperwire-{NAME}"
        self._topics_wake, self._topics_ran = asyncio.Event(), asyncio.Event()

    async def handle(self, batch: list[Decoded[BaseModel]]) -> list[tuple[Decoded[BaseModel], str]]:
        plan = plan_batch(batch, self.settings, self.clock.now())
        # Every record of the batch moves the stored offsets, refused ones included (they go to the DLQ).
        offsets = TopicPartitionOffsets()
        offsets.advance([d.record for d in batch])
        res = await self.store.apply(self.group, offsets.offsets, plan.updates)
        horizon = self.settings.dedupe_horizon_s
        late = [
            (
                plan.sources[i],
                f"event older than the dedupe horizon ({horizon:.0f}s behind the newest event "
                "of its partition): it can no longer be deduplicated",
            )
            for i in res.late
        ]
        invalid = [(plan.sources[i], f"refused by the trend store: {why}") for i, why in res.invalid]
        failures = plan.failures + late + invalid
        UPDATES.labels("applied").inc(res.applied)
        UPDATES.labels("skipped").inc(len(plan.updates) - res.applied - len(late) - len(invalid))
        UPDATES.labels("refused").inc(len(failures))
        return failures

    async def recluster_now(self) -> None:
        """Run the topic job at once (the task run_topics started) and wait until it has run: `paperwire run all`
        does after its startup ingest, so the sample's papers carry their topics when it says it is ready."""
        if not self.settings.topics_enabled:
            return
        self._topics_ran.clear()
        self._topics_wake.set()
        await self._topics_ran.wait()

    async def run_topics(self, stop: asyncio.Event) -> None:
        """The periodic topic job (re-cluster, publish topics.v1 and papers.topics.v1) until stop, also at once
        on recluster_now. With topics off, just wait (a task that ends on its own would stop the whole
        process)."""
        if not self.settings.topics_enabled:
            await stop.wait()
            return
        await run_periodically(
            self.b,
            self.b.topics,
            self.clock,
            self.settings.topics_interval_s,
            stop,
            config=self.settings.topic_job_config(),
            initial_delay_s=self.settings.topics_initial_delay_s,
            wake=self._topics_wake,
            ran=self._topics_ran,
        )

    async def resume_from_store(self, consumer: Consumer) -> dict[tuple[str, int], int]:
        """Move the group back to the store's offsets where it is ahead of them; returns the moves.

        The store records the offsets it applied atomically with the scores, so they are the truth about what
        counts. The bus's commits are ahead of them only when the store lost writes: the embedded store after a
        restart (rebuilt from its snapshot, or from nothing), Redis restored from an older RDB file or restarted
        empty. Replaying from the store's offsets then restores exactly the scores that were lost; records the
        store already has are skipped by offset, so moving back too far costs time, never correctness."""
        stored = await self.store.offsets(self.group)
        ends = {(t, p): end for t in consumer.topics for p, end in (await self.b.bus.end_offsets(t)).items()}
        tps = list(ends)
        ahead = {tp: off for tp, off in stored.items() if tp in ends and off > ends[tp]}
        if ahead:  # its records would be skipped as replays: the store belongs to another log
            log.error(
                "trending.store_ahead_of_the_log",
                group=self.group,
                partitions={f"{t}:{p}": off for (t, p), off in ahead.items()},
                fix="rebuild the store (embedded: delete trends.sqlite)",
            )
        committed = await consumer.committed_offsets(tps)
        back = {tp: stored.get(tp, 0) for tp in tps if stored.get(tp, 0) < committed[tp]}
        if back:
            log.info(
                "trending.resume_from_store",
                group=self.group,
                partitions=len(back),
                records=sum(committed[tp] - off for tp, off in back.items()),
            )
            await consumer.seek(back)
        return back

    def loop(self) -> ConsumerLoop:
        consumer = self.b.bus.consumer(self.group, [ENGAGEMENT.name, PAPERS_ENRICHED.name, PAPER_TOPICS.name])
        return ConsumerLoop(
            service=NAME,
            group=self.group,
            consumer=consumer,
            producer=self.b.bus,
            handler=self.handle,
            settings=self.settings,
            clock=self.clock,
            on_start=self.resume_from_store,
        )
