"""EventBus on Apache Kafka via aiokafka (>= 0.13: older clients fail against Kafka 4).

Safety choices, each against an aiokafka default:
- producer: enable_idempotence + acks=all (default acks=1 loses acknowledged writes on leader failover);
  every send is bounded by `send_timeout_s`, because an idempotent send retries forever while the broker is down;
- consumer: enable_auto_commit=False (we commit after the sink write), auto_offset_reset=earliest
  (a new group must not silently skip history), and a rebalance listener that waits for the batch in flight
  to be written and committed before partitions are handed to another member.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from ..logging import get_logger
from .port import Message, Record

log = get_logger(__name__)


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """consumer.stop(), without the CancelledError aiokafka's Fetcher.close leaks: it awaits the fetch tasks it
    has just cancelled (seen when a broker was down). A cancellation of the caller itself still propagates."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        log.warning("kafka.consumer_stop_cancelled", hint="aiokafka's fetcher leaked a CancelledError at close")


class BusUnavailable(RuntimeError):
    """The broker did not acknowledge in time; nothing of the batch may be assumed written."""


class KafkaBus:
    def __init__(
        self,
        bootstrap: str,
        *,
        client_id: str = "paperwire",
        send_timeout_s: float = 30.0,
        linger_ms: int = 5,
        max_batch_bytes: int = 1_048_576,
        compression: str | None = None,
        namespace: str = "",
        replication_factor: int = 1,
    ) -> None:
        self.bootstrap = bootstrap
        self.replication_factor = replication_factor
        # A namespace prefixes topics and groups on the broker (tests, staging beside production).
        self.ns = namespace
        self.client_id = client_id
        self.send_timeout_s = send_timeout_s
        self._producer_kw: dict[str, Any] = dict(
            linger_ms=linger_ms, max_batch_size=max_batch_bytes, compression_type=compression
        )
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            enable_idempotence=True,
            acks="all",
            request_timeout_ms=int(self.send_timeout_s * 1000),
            **self._producer_kw,
        )
        await asyncio.wait_for(self._producer.start(), timeout=self.send_timeout_s)

    async def ready(self) -> bool:
        """A broker answers a metadata request now (readiness; the caller bounds the wait)."""
        if self._producer is None:
            return False
        await self._producer.client.fetch_all_metadata()
        return True

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def ensure_topics(
        self, names: Sequence[str], partitions: int = 3, configs: Mapping[str, str] | None = None
    ) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=f"{self.client_id}-admin")
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            wanted = [self.ns + n for n in names]
            missing = [
                NewTopic(
                    n,
                    num_partitions=partitions,
                    replication_factor=self.replication_factor,
                    topic_configs=dict(configs or {}),
                )
                for n in wanted
                if n not in existing
            ]
            if missing:
                await admin.create_topics(missing)
                log.info("kafka.topics_created", topics=[t.name for t in missing])
        finally:
            await admin.close()

    async def publish(self, messages: Sequence[Message]) -> None:
        if self._producer is None:
            raise RuntimeError("KafkaBus.publish before start()")
        send = self._producer.send
        try:
            # send() itself waits while the accumulator is full or metadata is missing (a broker down), so the
            # bound covers the sends as well as their acknowledgements.
            async with asyncio.timeout(self.send_timeout_s):
                futures = [
                    await send(self.ns + m.topic, m.value, key=m.key.encode(), headers=list(m.headers))
                    for m in messages
                ]
                await asyncio.gather(*futures)
        except TimeoutError as e:
            raise BusUnavailable(f"kafka at {self.bootstrap} did not acknowledge within {self.send_timeout_s}s") from e

    async def end_offsets(self, topic: str) -> dict[int, int]:
        topic = self.ns + topic
        c = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await c.start()
        try:
            parts = c.partitions_for_topic(topic) or set()
            if not parts:
                await c._client.force_metadata_update()
                parts = c.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in sorted(parts)]
            ends = await c.end_offsets(tps) if tps else {}
            return {tp.partition: off for tp, off in ends.items()}
        finally:
            await stop_consumer(c)

    def consumer(self, group: str, topics: Sequence[str], *, from_beginning: bool = True) -> KafkaConsumer:
        return KafkaConsumer(self.bootstrap, group, list(topics), from_beginning, self.client_id, self.ns)

    def reader(self, topic: str, partition: int, offset: int | None = None) -> KafkaReader:
        return KafkaReader(self.bootstrap, self.ns + topic, topic, partition, offset, self.client_id)


class KafkaReader:
    """A group-less consumer assigned one partition (no commits, no rebalances)."""

    def __init__(
        self, bootstrap: str, name: str, topic: str, partition: int, offset: int | None, client_id: str
    ) -> None:
        self.topic, self._asked = topic, offset
        self.tp = TopicPartition(name, partition)
        self.position = 0
        # earliest: an offset the broker no longer keeps (retention) resumes at the oldest record it has.
        self._c = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            client_id=f"{client_id}-reader",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )

    async def start(self) -> None:
        await self._c.start()
        self._c.assign([self.tp])
        first = (await self._c.beginning_offsets([self.tp]))[self.tp]
        end = (await self._c.end_offsets([self.tp]))[self.tp]
        self.position = end if self._asked is None else min(max(self._asked, first), end)
        self._c.seek(self.tp, self.position)

    async def stop(self) -> None:
        await stop_consumer(self._c)

    async def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        got = await self._c.getmany(self.tp, timeout_ms=int(timeout_s * 1000), max_records=max_records)
        out = [
            Record(
                self.topic,
                (r.key or b"").decode(),
                r.value or b"",
                tuple(r.headers) if r.headers else (),
                r.partition,
                r.offset,
                r.timestamp / 1000.0,
            )
            for r in got.get(self.tp, [])
        ]
        if out:
            self.position = out[-1].offset + 1
        return out


class _FlushOnRevoke(ConsumerRebalanceListener):
    def __init__(self, owner: KafkaConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # The runner holds `batch_lock` from poll until commit: waiting for it means the batch in flight
        # has been written to its sink and committed before another member takes the partitions.
        async with self.owner.batch_lock:
            self.owner.generation += 1
            log.info("kafka.partitions_revoked", group=self.owner.group, partitions=len(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.owner.generation += 1
        await self.owner._apply_seeks(assigned)
        log.info("kafka.partitions_assigned", group=self.owner.group, partitions=len(assigned))


class KafkaConsumer:
    def __init__(
        self,
        bootstrap: str,
        group: str,
        topics: list[str],
        from_beginning: bool,
        client_id: str,
        ns: str = "",
    ) -> None:
        self.group, self.topics, self.ns = group, topics, ns
        self.batch_lock = asyncio.Lock()
        self.generation = 0
        self._first_polled: dict[TopicPartition, int] = {}  # first offset polled per partition (see rewind)
        self._seeks: dict[TopicPartition, int] = {}  # asked for by seek(), applied once the partition is assigned
        self._c = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=ns + group,
            client_id=f"{client_id}-{group}",
            enable_auto_commit=False,
            auto_offset_reset="earliest" if from_beginning else "latest",
            max_poll_interval_ms=300_000,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=3_000,
        )

    async def start(self) -> None:
        self._c.subscribe([self.ns + t for t in self.topics], listener=_FlushOnRevoke(self))
        await self._c.start()

    async def stop(self) -> None:
        await stop_consumer(self._c)

    async def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        batches = await self._c.getmany(timeout_ms=int(timeout_s * 1000), max_records=max_records)
        out: list[Record] = []
        add = out.append  # per-record hot path: no attribute lookups in the loop
        for tp, recs in batches.items():
            if recs:
                self._first_polled.setdefault(tp, recs[0].offset)
            topic, part = tp.topic.removeprefix(self.ns), tp.partition
            for r in recs:
                h = r.headers
                add(
                    Record(
                        topic,
                        (r.key or b"").decode(),
                        r.value or b"",
                        tuple(h) if h else (),
                        part,
                        r.offset,
                        r.timestamp / 1000.0,
                    )
                )
        return out

    async def commit(self, offsets: Mapping[tuple[str, int], int]) -> None:
        if offsets:
            await self._c.commit({TopicPartition(self.ns + t, p): off for (t, p), off in offsets.items()})

    async def seek(self, offsets: Mapping[tuple[str, int], int]) -> None:
        self._seeks.update({TopicPartition(self.ns + t, p): off for (t, p), off in offsets.items()})
        await self._apply_seeks(self._c.assignment())

    async def _apply_seeks(self, assigned: Any) -> None:
        due = {tp: self._seeks.pop(tp) for tp in list(self._seeks) if tp in assigned}
        for tp, off in due.items():
            self._c.seek(tp, off)
            self._first_polled.pop(tp, None)
        if due:
            await self._c.commit(due)  # so a rewind (and a restart) come back here, not to the old commit
            log.info("kafka.sought", group=self.group, partitions=len(due))

    async def rewind(self) -> None:
        # Not seek_to_committed(): it leaves a partition with no committed offset (or offset 0) where it is,
        # which would skip a new group's uncommitted first records. Without a commit, go back to the first
        # offset this consumer polled there.
        for tp in self._c.assignment():
            committed = await self._c.committed(tp)
            target = committed if committed is not None else self._first_polled.get(tp)
            if target is not None:
                self._c.seek(tp, target)

    async def committed_offsets(self, partitions: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        out = {}
        for t, p in partitions:
            out[(t, p)] = await self._c.committed(TopicPartition(self.ns + t, p)) or 0
        return out

    async def lag(self) -> int:
        total = 0
        for tp in self._c.assignment():
            hw = self._c.highwater(tp)
            committed = await self._c.committed(tp)
            if hw is not None:
                total += max(0, hw - (committed or 0))
        return total
