"""Elasticsearch stopped for 60 s mid-ingest, then started again (the suite's own node, never the shared one).

While it is down the indexer fails its batches and backs off (nothing is committed, nothing dead-lettered), its
readiness fails, the consumer-lag alert fires; once it is back everything arrives, exactly once and at the right
version, and the alert resolves. Trending (Redis only) keeps scoring throughout.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from paperwire_common.backends import Backends

from . import check
from .check import FaultResult
from .drive import Clock, Progress, ingest, publish_events, verify, wait_until
from .prom import Prometheus
from .servers import FaultServers, logdir
from .stack import Stack
from .workload import make_workload

pytestmark = [pytest.mark.faults, pytest.mark.kafka, pytest.mark.elasticsearch, pytest.mark.redis, pytest.mark.slow]
PAPERS, REVISE_EVERY, EVENTS = 30_000, 10, 30_000
OUTAGE_S = 60.0


@pytest.mark.timeout(900)
async def test_elasticsearch_down_60s_mid_ingest(
    fault_servers: FaultServers,
    direct_backends: Backends,
    prometheus: Prometheus,
    namespace: str,
    tmp_path: Path,
    fault_result: FaultResult,
) -> None:
    r = fault_result
    w = make_workload(tmp_path, "es", papers=PAPERS, revise_every=REVISE_EVERY, events=EVENTS, t0=time.time() - 7200)
    r.workload, r.fault = w.describe(), f"Elasticsearch stopped {OUTAGE_S:.0f} s mid-ingest, then started"
    direct = fault_servers.endpoints(proxied=False)
    bootstrap, es_url, redis_url = (direct[k] for k in direct)
    stack = Stack(namespace, direct, logdir(namespace), prometheus, test="es-outage")
    es = fault_servers.elasticsearch
    try:
        for name in ("enricher", "indexer", "trending"):
            stack.add(name)
        await asyncio.to_thread(stack.wait_ready)
        await asyncio.to_thread(prometheus.wait_scraped, namespace, 3)
        [indexer] = stack.by_name("indexer")
        clock, progress = Clock(), Progress()
        feeding = asyncio.gather(
            ingest(direct_backends, w, progress, updates=False, pace=2500),
            publish_events(direct_backends, w, progress, pace_s=0.02),
        )

        async def some_indexed() -> bool:
            return await check.index_count(es_url, namespace) >= 3000

        await wait_until(some_indexed, 120, "the first 3000 papers indexed")
        await asyncio.to_thread(es.down)
        clock.mark("down")

        async def indexer_unready() -> bool:
            return (await asyncio.to_thread(indexer.readyz))[0] == 503

        await wait_until(indexer_unready, 20, "the indexer's /readyz to fail")
        status, body = await asyncio.to_thread(indexer.readyz)
        assert status == 503 and "elasticsearch" in body["failing"], body
        r.notes.append(f"indexer /readyz while down: 503 {body['failing']}")
        for other in (*stack.by_name("enricher"), *stack.by_name("trending")):  # they do not need Elasticsearch
            assert (await asyncio.to_thread(other.readyz))[0] == 200, other.label
        fired = await asyncio.to_thread(
            prometheus.wait_alert, "PaperwireConsumerLagHigh", firing=True, timeout=OUTAGE_S, service="indexer"
        )
        r.notes.append(f"lag alert fired {clock.since('down'):.0f}s into the outage")
        assert fired < OUTAGE_S
        stack.check_alive()
        await asyncio.sleep(max(0.0, OUTAGE_S - clock.since("down")))
        start_s = await asyncio.to_thread(es.up)
        clock.mark("up")
        r.notes.append(
            f"Elasticsearch back after {clock.marks['up'] - clock.marks['down']:.0f}s (start {start_s:.0f}s)"
        )
        await feeding
        await ingest(direct_backends, w, progress, updates=True)  # the revisions, once it is back
        await check.wait_converged(bootstrap, es_url, namespace, len(w.versions), 600)
        r.recovery_s = clock.since("up")  # from the restart until every paper and event is in

        async def indexer_ready() -> bool:
            return (await asyncio.to_thread(indexer.readyz))[0] == 200

        await wait_until(indexer_ready, 60, "the indexer's /readyz to recover")
        await asyncio.to_thread(
            prometheus.wait_alert, "PaperwireConsumerLagHigh", firing=False, timeout=120, service="indexer"
        )
        stack.check_alive()
        await verify(
            r,
            bootstrap=bootstrap,
            es_url=es_url,
            redis_url=redis_url,
            ns=namespace,
            workloads=[w],
            progress=progress,
        )
        r.alerts = prometheus.fired_between(clock.start, time.time(), namespace)
        assert "PaperwireConsumerLagHigh" in r.alerts
        assert "PaperwireEventsDeadLettered" not in r.alerts and "PaperwireConsumerHalted" not in r.alerts
    finally:
        codes = stack.close()
        await direct_backends.index.es.options(ignore_status=404).indices.delete(index=f"{namespace}papers-v1")  # type: ignore[attr-defined]
    assert all(c == 0 for c in codes.values()), codes
