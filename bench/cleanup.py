"""Leave the servers as the benchmark found them: a run's namespaced topics are deleted at its end (hundreds
of leftover partitions slow a small broker down, and with it the next benchmark)."""

from __future__ import annotations


async def drop_namespace_topics(bootstrap: str, namespace: str) -> None:
    """Delete every topic of `namespace` (each spec's topic and its DLQ)."""
    from aiokafka.admin import AIOKafkaAdminClient

    from paperwire_common.streams import ALL_STREAMS

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-cleanup")
    await admin.start()
    try:
        mine = {namespace + n for spec in ALL_STREAMS for n in (spec.name, spec.dlq)}
        existing = mine & set(await admin.list_topics())
        if existing:
            await admin.delete_topics(sorted(existing))
    finally:
        await admin.close()
