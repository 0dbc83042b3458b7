"""SubscriptionStore on the Kafka backend: the compacted stream subscriptions.v1 is the source of truth, every
process keeps a view of it in memory, and a Redis lock per subscription serialises read-modify-writes.

- Source of truth: one record per change, the subscription's whole state, key = its id; compaction keeps the last
  record per key, so the stream *is* the table and a process rebuilds its view by reading it from the start
  (`start()` returns once the view has caught up with the end offsets it found).
- View: a background reader assigned to every partition (no consumer group: every process reads everything) that
  keeps, per id, the record with the highest revision (a replay or duplicate changes nothing).
- Writes: `create` publishes revision 1 of a fresh id. `update` takes the subscription's Redis lock, waits until
  the view has read up to the stream's current end (so it sees every earlier write, from any process), applies
  the change, publishes revision + 1 (acks=all) and applies it to its own view before releasing the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from ..bus.kafka import stop_consumer
from ..bus.port import EventBus
from ..envelope import PoisonMessage, decode, encode
from ..events import SubscriptionRecord
from ..logging import get_logger
from ..streams import SUBSCRIPTIONS
from .port import Change, live, next_revision

log = get_logger(__name__)
LOCK_TTL_S = 10.0


class StreamSubscriptionStore:
    def __init__(self, bus: EventBus, bootstrap: str, redis: Any, *, namespace: str = "", source: str = "") -> None:
        self.bus, self.bootstrap, self.r, self.ns = bus, bootstrap, redis, namespace
        self.source = source or "paperwire/subscriptions"
        self.topic = namespace + SUBSCRIPTIONS.name
        self._view: dict[str, SubscriptionRecord] = {}
        self._pos: dict[int, int] = {}  # partition -> next offset the view will read
        self._moved = asyncio.Condition()
        self._changes = 0
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._tps: list[TopicPartition] = []
        self._caught_up = False

    async def start(self) -> None:
        if self._task is not None:
            return
        c = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None)
        await c.start()
        parts = c.partitions_for_topic(self.topic)
        if not parts:
            await c._client.force_metadata_update()
            parts = c.partitions_for_topic(self.topic) or {0}
        self._tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
        c.assign(self._tps)
        await c.seek_to_beginning(*self._tps)
        self._consumer = c
        self._task = asyncio.create_task(self._read(), name="subscriptions-view")
        await self._catch_up()
        self._caught_up = True
        log.info("subscriptions.view_ready", subscriptions=len(self.live_records()), stream=self.topic)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        self._caught_up = False
        if self._consumer is not None:
            await stop_consumer(self._consumer)
            self._consumer = None

    async def ready(self) -> bool:
        return self._caught_up and self._task is not None and not self._task.done()

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=500, max_records=1000)
            for tp, recs in batches.items():
                for rec in recs:
                    self._apply_raw(rec)
                    self._pos[tp.partition] = rec.offset + 1
            if batches:
                async with self._moved:
                    self._moved.notify_all()
            else:  # an empty poll: positions may still have moved past compacted gaps or control records
                for tp in self._tps:
                    self._pos[tp.partition] = max(self._pos.get(tp.partition, 0), await self._consumer.position(tp))
                async with self._moved:
                    self._moved.notify_all()

    def _apply_raw(self, rec: Any) -> None:
        from ..bus.port import Record

        if rec.value is None:  # a tombstone (never written by us; an operator may): the key is gone
            self._view.pop((rec.key or b"").decode(), None)
            self._changes += 1
            return
        record = Record(SUBSCRIPTIONS.name, (rec.key or b"").decode(), rec.value, tuple(rec.headers or ()))
        try:
            d = decode(SUBSCRIPTIONS, record)
        except PoisonMessage as e:
            log.error("subscriptions.bad_record", offset=rec.offset, reason=str(e))
            return
        assert isinstance(d.event, SubscriptionRecord)
        self._apply(d.event)

    def _apply(self, r: SubscriptionRecord) -> None:
        cur = self._view.get(r.id)
        if cur is None or r.revision > cur.revision:
            self._view[r.id] = r
            self._changes += 1

    async def _catch_up(self, timeout_s: float = 30.0) -> None:
        """Until the view has read everything written before this call."""
        assert self._consumer is not None
        ends = await self._consumer.end_offsets(self._tps)
        async with asyncio.timeout(timeout_s), self._moved:
            await self._moved.wait_for(lambda: all(self._pos.get(tp.partition, 0) >= end for tp, end in ends.items()))

    async def _publish(self, r: SubscriptionRecord) -> None:
        msg = encode(SUBSCRIPTIONS, r, key=r.id, event_id=f"{r.id}:{r.revision}", source=self.source, time=r.updated_at)
        await self.bus.publish([msg])
        self._apply(r)

    async def create(self, record: SubscriptionRecord) -> SubscriptionRecord:
        record = record.model_copy(update={"revision": 1})
        await self._publish(record)
        return record

    async def update(self, subscription_id: str, change: Change) -> SubscriptionRecord | None:
        lock = self.r.lock(
            f"{self.ns}paperwire:subscriptions:lock:{subscription_id}", timeout=LOCK_TTL_S, blocking_timeout=LOCK_TTL_S
        )
        async with lock:
            await self._catch_up()
            old = live(self._view.get(subscription_id))
            if old is None:
                return None
            new = change(old)
            if new is None:
                return old
            new = next_revision(old, new)
            await self._publish(new)
            return new

    async def get(self, subscription_id: str) -> SubscriptionRecord | None:
        return live(self._view.get(subscription_id))

    def live_records(self) -> list[SubscriptionRecord]:
        return sorted((r for r in self._view.values() if r.status != "deleted"), key=lambda r: (r.created_at, r.id))

    async def list(self, owner: str | None = None) -> list[SubscriptionRecord]:
        return [r for r in self.live_records() if owner is None or r.owner == owner]

    @property
    def changes(self) -> int:
        return self._changes
