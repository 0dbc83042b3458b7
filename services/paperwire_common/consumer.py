"""The consumer loop every service shares: poll -> decode -> handle -> dead-letter -> commit.

Offsets are committed only after the handler's sink write, so a crash means redelivery, never loss;
handlers are idempotent (keyed by event id / external version), so redelivery never double-counts.

Read-ahead: while the handler awaits its sink (Elasticsearch, Redis, the next topic), the loop polls and decodes
the next batch, so parsing overlaps the sink's own work. Batches are still handled and committed one at a time
and in order; a read-ahead batch is dropped (and the consumer rewound to its committed offsets) when the batch
before it fails or the group rebalanced in between.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from .bus.port import Consumer, Producer, Record, TopicPartitionOffsets
from .clock import Clock, SystemClock
from .envelope import Decoded, PoisonMessage, dead_letter, decode
from .logging import get_logger
from .metrics import BATCH_SECONDS, CONSUMER_LAG, DEAD_LETTERED, FAILED, HALTED, PROCESSED
from .settings import ConsumerSettings
from .streams import BY_NAME

log = get_logger(__name__)

# A handler gets the decoded events of one batch and returns the ones that failed permanently, with why.
Handler = Callable[[list[Decoded[BaseModel]]], Awaitable[list[tuple[Decoded[BaseModel], str]]]]


class PoisonHalt(RuntimeError):
    """Too much of one batch is poison: something upstream is broken; stop rather than dead-letter it all."""


@dataclass
class _Batch:
    generation: int  # the consumer's assignment generation when it was polled
    records: list[Record]
    good: list[Decoded[BaseModel]]
    poison: list[tuple[Record, str]]


@dataclass
class LoopStats:
    processed: int = 0
    dead_lettered: int = 0
    failed_batches: int = 0
    batches: int = 0


class ConsumerLoop:
    def __init__(
        self,
        *,
        service: str,
        group: str,
        consumer: Consumer,
        producer: Producer,
        handler: Handler,
        settings: ConsumerSettings,
        clock: Clock | None = None,
        observe: Callable[[], Awaitable[None]] | None = None,
        on_start: Callable[[Consumer], Awaitable[object]] | None = None,
    ) -> None:
        self.service, self.group = service, group
        # Refreshes the service's own gauges (the index size), on the lag gauge's cadence, busy or idle.
        self.observe = observe
        # Runs once the consumer has started, before the first poll (trending: resume where its store stands).
        self.on_start = on_start
        self.consumer, self.producer, self.handler = consumer, producer, handler
        self.settings = settings
        self.clock = clock or SystemClock()
        self.stats = LoopStats()
        self.halted: str | None = None
        # Why the last batch failed (a sink or the broker unreachable), until a batch succeeds again.
        self.failing: str | None = None
        self.started = False
        self._lag_at = -1e9
        self.committed: dict[tuple[str, int], int] = {}  # what this loop committed, per (topic, partition)
        self._ahead: asyncio.Task[_Batch] | None = None
        self._rewind_pending = False

    def _decode(self, records: Sequence[Record]) -> tuple[list[Decoded[BaseModel]], list[tuple[Record, str]]]:
        good: list[Decoded[BaseModel]] = []
        poison: list[tuple[Record, str]] = []
        for r in records:
            spec = BY_NAME.get(r.topic)
            if spec is None:
                poison.append((r, f"no schema registered for topic {r.topic}"))
                continue
            try:
                good.append(decode(spec, r))
            except PoisonMessage as e:
                poison.append((r, str(e)))
        return good, poison

    async def _fetch(self) -> _Batch:
        generation = self.consumer.generation
        records = await self.consumer.poll(self.settings.batch_size, self.settings.poll_timeout_s)
        good, poison = self._decode(records) if records else ([], [])
        return _Batch(generation, records, good, poison)

    async def _rewind(self) -> None:
        """Back to the committed offsets: the failed batch and anything read ahead come again."""
        await self._drop_ahead()
        self._rewind_pending = True
        await self.consumer.rewind()
        self._rewind_pending = False

    async def _next(self) -> _Batch:
        if self._rewind_pending:  # a failure after the poll (DLQ publish, commit, or the rewind itself)
            await self._rewind()
        task, self._ahead = self._ahead, None
        if task is None:
            return await self._fetch()
        batch = await task
        if batch.records and batch.generation != self.consumer.generation:
            # Partitions moved after this batch was read ahead: some may belong to another member now.
            log.info("consumer.read_ahead_dropped", service=self.service, records=len(batch.records))
            await self._rewind()
            return await self._fetch()
        return batch

    async def _drop_ahead(self) -> None:
        task, self._ahead = self._ahead, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def run_once(self) -> int:
        """Handle one batch; returns how many records it committed (0 on an empty poll or a retry)."""
        batch = await self._next()
        records, good, poison = batch.records, batch.good, batch.poison
        if not records:
            return 0
        async with self.consumer.batch_lock:
            with BATCH_SECONDS.labels(self.service).time():
                s = self.settings
                if len(records) >= s.poison_min_batch and len(poison) / len(records) > s.poison_max_ratio:
                    HALTED.labels(self.service).set(1)
                    self.halted = (
                        f"{len(poison)} of {len(records)} records poison (> {s.poison_max_ratio:.0%}); "
                        f"first: {poison[0][1]}"
                    )
                    log.error("consumer.halted", service=self.service, group=self.group, reason=self.halted)
                    raise PoisonHalt(self.halted)
                if s.read_ahead:
                    self._ahead = asyncio.create_task(self._fetch())
                try:
                    failures = await self.handler(good) if good else []
                except Exception:
                    FAILED.labels(self.service, records[0].topic).inc()
                    self.stats.failed_batches += 1
                    log.exception("consumer.batch_failed", service=self.service, records=len(records))
                    await self._rewind()
                    raise
                dlq = [dead_letter(r, reason=why, group=self.group, time=self.clock.now()) for r, why in poison]
                dlq += [
                    dead_letter(d.record, reason=why, group=self.group, time=self.clock.now()) for d, why in failures
                ]
                if dlq:
                    await self.producer.publish(dlq)
                    for m in dlq:
                        DEAD_LETTERED.labels(self.service, m.topic.removesuffix(".dlq")).inc()
                        log.warning(
                            "consumer.dead_lettered",
                            service=self.service,
                            topic=m.topic,
                            reason=m.header("dlq_reason"),
                            key=m.key,
                        )
                offsets = TopicPartitionOffsets()
                offsets.advance(records)
                await self.consumer.commit(offsets.offsets)
                for tp, off in offsets.offsets.items():
                    self.committed[tp] = max(self.committed.get(tp, 0), off)
        per_topic: dict[str, int] = {}
        for r in records:
            per_topic[r.topic] = per_topic.get(r.topic, 0) + 1
        for topic, n in per_topic.items():  # one labels() lookup per topic, not per record: hot path
            PROCESSED.labels(self.service, topic).inc(n)
        self.stats.processed += len(records) - len(dlq)
        self.stats.dead_lettered += len(dlq)
        self.stats.batches += 1
        return len(records)

    async def _start(self) -> None:
        await self.consumer.start()
        if self.on_start is not None:
            await self.on_start(self.consumer)
        self.started = True

    async def drain(self, until: Mapping[tuple[str, int], int], timeout_s: float = 3600) -> int:
        """Consume until this loop has committed up to `until` (end offsets taken before the call), then stop.

        For replays (reindex, trending rebuild): an explicit target, because a lag of 0 also reads as
        "caught up" while a Kafka consumer is still joining its group.
        """
        await self._start()
        done = 0
        try:
            # The group may have committed some partitions already (a second drain): start from there.
            for tp, off in (await self.consumer.committed_offsets(list(until))).items():
                self.committed[tp] = max(self.committed.get(tp, 0), off)
            async with asyncio.timeout(timeout_s):
                while any(self.committed.get(tp, 0) < end for tp, end in until.items()):
                    done += await self.run_once()
        finally:
            await self._drop_ahead()
            await self.consumer.stop()
        return done

    async def _observe(self) -> None:
        # committed() is a broker round trip per partition on Kafka: refresh the gauge at most every 5 s. Also
        # while batches fail (a sink down), when the lag is what grows; with the broker unreachable too the
        # gauge keeps its last value rather than stalling the loop.
        now = asyncio.get_running_loop().time()
        if now - self._lag_at < 5.0:
            return
        self._lag_at = now
        try:
            async with asyncio.timeout(5.0):
                CONSUMER_LAG.labels(self.service, self.group).set(await self.consumer.lag())
        except Exception as e:
            log.warning("consumer.lag_unknown", service=self.service, error=repr(e))
        if self.observe is not None:
            try:
                async with asyncio.timeout(5.0):
                    await self.observe()
            except Exception as e:  # a sink down: the gauge keeps its last value
                log.warning("consumer.observe_failed", service=self.service, error=repr(e))

    def _init_metrics(self) -> None:
        """Every series of this loop exists from the start, at 0: a rate over a counter that appears only with
        its first failure would read "no data" instead of 0 (dashboards, `absent()`-free alerts)."""
        HALTED.labels(self.service).set(0)
        for topic in self.consumer.topics:
            for counter in (PROCESSED, FAILED, DEAD_LETTERED):
                counter.labels(self.service, topic)

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: the batch in flight is finished and committed before returning (drain).

        On a poison halt the loop stops consuming but the process stays up (readiness fails, the
        `paperwire_consumer_halted` gauge is 1) so the alert fires and an operator can look.
        """
        self._init_metrics()
        await self._start()
        backoff = self.settings.retry_backoff_s
        try:
            while not stop.is_set():
                try:
                    await self.run_once()
                    backoff = self.settings.retry_backoff_s
                    self.failing = None
                    await self._observe()
                except PoisonHalt:
                    await self._drop_ahead()
                    await stop.wait()
                except Exception as e:
                    # Transient failure (sink down, broker blip): uncommitted records come again after a wait.
                    self.failing = f"{type(e).__name__}: {e}"[:300]
                    self._rewind_pending = True
                    await self._observe()
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=backoff)
                    except TimeoutError:
                        pass
                    backoff = min(backoff * 2, 30.0)
        finally:
            await self._drop_ahead()
            await self.consumer.stop()
            log.info("consumer.stopped", service=self.service, group=self.group, **self.stats.__dict__)
