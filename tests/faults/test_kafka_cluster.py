"""A three-broker Kafka cluster (KRaft, three JVMs on loopback, replication factor 3, min.insync.replicas=2,
deploy/local/kafka-cluster.sh): the leader of a partition is killed with kill -9 mid-ingest and brought back.

The producers use acks=all with idempotence, so every acknowledged write is on two replicas and a retry after
the failover never duplicates it; the new leader is one of the in-sync replicas (no unclean election), so nothing
acknowledged can be lost. The check: every paper and event present exactly once, scores equal to the replay,
and every partition back to three in-sync replicas.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from paperwire_common.streams import ALL_STREAMS, PAPERS_RAW

from . import check
from .check import FaultResult
from .conftest import backends_for
from .drive import Clock, Progress, ingest, publish_events, verify, wait_until
from .prom import Prometheus
from .servers import FaultServers, KafkaCluster, logdir, start_kafka_cluster
from .stack import Stack
from .workload import make_workload

pytestmark = [pytest.mark.faults, pytest.mark.kafka, pytest.mark.elasticsearch, pytest.mark.redis, pytest.mark.slow]
# 100,000 papers is the size; PAPERWIRE_FAULTS_CLUSTER_PAPERS overrides it (see the report's timing).
PAPERS = int(os.environ.get("PAPERWIRE_FAULTS_CLUSTER_PAPERS", "100000"))
REVISE_EVERY, EVENTS = 20, 50_000
KILL_AT = 0.3  # the share of papers.raw.v1 published when the leader dies
DOWN_S = 20.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[KafkaCluster]:
    c = start_kafka_cluster()
    try:
        yield c
    finally:
        c.run("down")


async def describe(bootstrap: str, topics: list[str]) -> dict[tuple[str, int], dict[str, Any]]:
    """(topic, partition) -> leader, replicas, isr."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        out = {}
        for t in await admin.describe_topics(topics):
            for p in t["partitions"]:
                out[(t["topic"], p["partition"])] = {
                    "leader": p["leader"],
                    "replicas": p["replicas"],
                    "isr": p["isr"],
                }
        return out
    finally:
        await admin.close()


@pytest.mark.timeout(1800)
async def test_partition_leader_killed_mid_ingest(
    cluster: KafkaCluster,
    fault_servers: FaultServers,
    prometheus: Prometheus,
    namespace: str,
    tmp_path: Path,
    fault_result: FaultResult,
) -> None:
    r = fault_result
    w = make_workload(tmp_path, "kc", papers=PAPERS, revise_every=REVISE_EVERY, events=EVENTS, t0=time.time() - 7200)
    direct = fault_servers.endpoints(proxied=False)
    endpoints = {**direct, "PAPERWIRE_KAFKA_BOOTSTRAP": cluster.bootstrap}
    es_url, redis_url = direct["PAPERWIRE_ELASTICSEARCH_URL"], direct["PAPERWIRE_REDIS_URL"]
    b = await backends_for(endpoints, namespace, kafka_replication_factor=3)
    stack = Stack(
        namespace,
        endpoints,
        logdir(namespace),
        prometheus,
        test="kafka-cluster",
        extra_env={"PAPERWIRE_KAFKA_REPLICATION_FACTOR": "3"},
    )
    streams = [namespace + s.name for s in ALL_STREAMS]
    try:
        layout = await describe(cluster.bootstrap, streams)
        assert layout and all(len(p["replicas"]) == 3 for p in layout.values()), layout
        for name in ("enricher", "indexer", "trending"):
            stack.add(name)
        await asyncio.to_thread(stack.wait_ready, 180)
        clock, progress = Clock(), Progress()
        t0 = time.monotonic()
        feeding = asyncio.gather(ingest(b, w, progress), publish_events(b, w, progress, pace_s=0.01))
        raw = namespace + PAPERS_RAW.name

        async def far_enough() -> bool:
            ends = await check.end_offsets(cluster.bootstrap, [raw])
            return sum(ends.values()) >= KILL_AT * PAPERS

        await wait_until(far_enough, 600, f"{KILL_AT:.0%} of the papers published", every=0.2)
        leader = (await describe(cluster.bootstrap, [raw]))[(raw, 0)]["leader"]
        await asyncio.to_thread(cluster.run, "kill", str(leader))
        clock.mark("killed")

        async def new_leader() -> bool:
            try:
                return (await describe(cluster.bootstrap, [raw]))[(raw, 0)]["leader"] not in (leader, -1)
            except Exception:
                return False

        r.notes.append(
            f"new leader of {PAPERS_RAW.name}[0] {await wait_until(new_leader, 60, 'a new leader'):.1f}s after the kill"
        )
        published = sum((await check.end_offsets(cluster.bootstrap, [raw])).values())
        r.fault = (
            f"kill -9 of broker {leader}, leader of {PAPERS_RAW.name}[0], at {KILL_AT:.0%} of {PAPERS} papers "
            f"published ({published} when the new leader was known); restarted after {DOWN_S:.0f}s"
        )
        await asyncio.sleep(max(0.0, DOWN_S - clock.since("killed")))
        await asyncio.to_thread(cluster.run, "start", str(leader))
        clock.mark("restarted")

        async def in_sync() -> bool:
            return all(len(p["isr"]) == 3 for p in (await describe(cluster.bootstrap, streams)).values())

        isr = asyncio.create_task(wait_until(in_sync, 600, "ISR back to 3", every=1))
        await feeding
        clock.mark("fed")
        r.notes.append(f"ingest + engagement publish took {time.monotonic() - t0:.0f}s")
        r.notes.append(f"every partition 3 in-sync again {await isr:.0f}s after the restart")
        await check.wait_converged(cluster.bootstrap, es_url, namespace, len(w.versions), 1200)
        r.recovery_s = clock.since("fed")  # the pipeline caught up this long after the last write
        r.workload = w.describe()
        r.notes.append(f"ingest retries {progress.ingest_retries}, publish retries {progress.publish_retries}")
        stack.check_alive()
        await verify(
            r,
            bootstrap=cluster.bootstrap,
            es_url=es_url,
            redis_url=redis_url,
            ns=namespace,
            workloads=[w],
            progress=progress,
        )
        r.alerts = prometheus.fired_between(clock.start, time.time(), namespace)
    finally:
        codes = stack.close()
        await b.index.es.options(ignore_status=404).indices.delete(index=f"{namespace}papers-v1")  # type: ignore[attr-defined]
        await b.stop()
    assert all(c == 0 for c in codes.values()), codes
