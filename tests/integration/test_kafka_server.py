"""Real Kafka 4 (KRaft) with aiokafka >= 0.13: idempotent produce, group consume, manual commits."""

from __future__ import annotations

import asyncio

import aiokafka
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

pytestmark = pytest.mark.kafka


async def test_aiokafka_version_talks_to_kafka_4() -> None:
    major, minor = (int(x) for x in aiokafka.__version__.split(".")[:2])
    assert (major, minor) >= (0, 13), "aiokafka < 0.13 sends requests Kafka 4 removed"


async def test_produce_consume_group_with_manual_commits(kafka_bootstrap: str, namespace: str) -> None:
    topic, group = f"{namespace}it.events", f"{namespace}it-group"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    for i in range(20):
        await producer.send_and_wait(topic, f"v{i}".encode(), key=f"k{i % 4}".encode())
    await producer.stop()

    async def consume(n: int, commit_first: int | None) -> list[str]:
        c = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await c.start()
        seen: list[tuple[TopicPartition, int, str]] = []
        try:
            async with asyncio.timeout(30):
                while len(seen) < n:
                    batch = await c.getmany(timeout_ms=500)
                    for tp, recs in batch.items():
                        seen += [(tp, r.offset, r.value.decode()) for r in recs]
            if commit_first is not None:
                offsets: dict[TopicPartition, int] = {}
                for tp, off, _ in seen[:commit_first]:
                    offsets[tp] = max(offsets.get(tp, 0), off + 1)
                await c.commit(offsets)
            else:
                await c.commit()
        finally:
            await c.stop()
        return [v for _, _, v in seen]

    first = await consume(20, commit_first=None)
    assert sorted(first, key=lambda v: int(v[1:])) == [f"v{i}" for i in range(20)]
    # Everything was committed: a new member of the same group gets nothing more.
    c = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await c.start()
    again = await c.getmany(timeout_ms=3000)
    committed = {tp.partition: await c.committed(tp) for tp in c.assignment()}
    await c.stop()
    assert sum(len(v) for v in again.values()) == 0
    assert sum(committed.values()) == 20
