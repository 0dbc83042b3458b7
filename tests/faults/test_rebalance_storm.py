"""A rebalance storm: while papers and engagement stream in, extra indexer and scorer (trending) processes join
their groups every few seconds and are killed again (kill -9 or SIGTERM, in turn), and the base indexer is
killed with kill -9 and restarted on its port (the target-down alert fires, then resolves). Every partition
moves many times; nothing may be lost or counted twice."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest

from paperwire_common.backends import Backends

from . import check
from .check import FaultResult
from .drive import Clock, Progress, ingest, publish_events, verify
from .prom import Prometheus
from .servers import FaultServers, logdir
from .stack import Service, Stack
from .workload import make_workload

pytestmark = [pytest.mark.faults, pytest.mark.kafka, pytest.mark.elasticsearch, pytest.mark.redis, pytest.mark.slow]
PAPERS, REVISE_EVERY, EVENTS = 15_000, 10, 30_000
FEED_S = 60  # the ingest is paced over this long; the storm lasts as long
EVERY_S = 4.0


@pytest.mark.timeout(900)
async def test_rebalance_storm_during_ingest(
    fault_servers: FaultServers,
    direct_backends: Backends,
    prometheus: Prometheus,
    namespace: str,
    fault_result: FaultResult,
    tmp_path: Path,
) -> None:
    r = fault_result
    w = make_workload(tmp_path, "storm", papers=PAPERS, revise_every=REVISE_EVERY, events=EVENTS, t0=time.time() - 7200)
    direct = fault_servers.endpoints(proxied=False)
    bootstrap, es_url, redis_url = (direct[k] for k in direct)
    stack = Stack(namespace, direct, logdir(namespace), prometheus, test="storm")
    stats = {"started": 0, "killed -9": 0, "terminated": 0}
    bad_exits: list[str] = []
    try:
        for name in ("enricher", "indexer", "trending"):
            stack.add(name)
        await asyncio.to_thread(stack.wait_ready)
        await asyncio.to_thread(prometheus.wait_scraped, namespace, 3)
        [base_indexer] = stack.by_name("indexer")
        clock, progress = Clock(), Progress()
        feeding = asyncio.gather(
            ingest(direct_backends, w, progress, pace=(PAPERS + PAPERS / REVISE_EVERY) / FEED_S),
            publish_events(direct_backends, w, progress, pace_s=FEED_S / len(w.batches)),
        )
        extras: list[Service] = []
        kinds, how = itertools.cycle(["indexer", "trending"]), itertools.cycle(["kill", "term"])

        async def storm() -> None:
            while not feeding.done():
                extras.append(stack.add(next(kinds)))
                stats["started"] += 1
                if len(extras) > 2:
                    victim = extras.pop(0)
                    # SIGTERM only a process whose handlers are installed (its health port answers): one still
                    # importing on a busy box dies of the default action, which is a kill -9 in effect.
                    if next(how) == "kill" or (await asyncio.to_thread(victim.readyz))[0] == 0:
                        stats["killed -9"] += 1
                        victim.kill()
                    else:
                        stats["terminated"] += 1
                        code = await asyncio.to_thread(victim.stop)
                        if code != 0:
                            bad_exits.append(f"{victim.label} exited {code} on SIGTERM:\n{victim.tail()}")
                    stack.services.remove(victim)
                    stack.register()
                await asyncio.sleep(EVERY_S)

        storming = asyncio.create_task(storm())
        await asyncio.sleep(FEED_S / 3)
        base_indexer.kill()
        clock.mark("indexer killed")
        fired = await asyncio.to_thread(
            prometheus.wait_alert,
            "PaperwireTargetDown",
            firing=True,
            timeout=60,
            namespace=namespace,
            component="indexer",
        )
        r.notes.append(f"target-down alert fired {fired:.0f}s after the kill -9 of {base_indexer.label}")
        base_indexer.start()
        resolved = await asyncio.to_thread(
            prometheus.wait_alert,
            "PaperwireTargetDown",
            firing=False,
            timeout=60,
            namespace=namespace,
            component="indexer",
        )
        r.notes.append(f"resolved {resolved:.0f}s after its restart")
        await feeding
        await storming
        clock.mark("storm over")
        await asyncio.to_thread(stack.wait_ready, 180, extras)  # the last ones may still be starting
        for s in extras:
            stats["terminated"] += 1
            code = await asyncio.to_thread(s.stop)
            if code != 0:
                bad_exits.append(f"{s.label} exited {code} on SIGTERM:\n{s.tail()}")
            stack.services.remove(s)
        stack.register()
        await check.wait_converged(bootstrap, es_url, namespace, len(w.versions), 600)
        r.recovery_s = clock.since("storm over")
        r.workload = w.describe()
        r.fault = (
            f"rebalance storm for {FEED_S}s: {stats['started']} extra indexer/scorer processes started every "
            f"{EVERY_S:.0f}s, {stats['killed -9']} killed -9, {stats['terminated']} stopped with SIGTERM; the base "
            "indexer killed -9 and restarted"
        )
        stack.check_alive()
        await verify(
            r, bootstrap=bootstrap, es_url=es_url, redis_url=redis_url, ns=namespace, workloads=[w], progress=progress
        )
        r.alerts = prometheus.fired_between(clock.start, time.time(), namespace)
        assert "PaperwireTargetDown" in r.alerts
        assert not bad_exits, "\n".join(bad_exits)
    finally:
        codes = stack.close()
        await direct_backends.index.es.options(ignore_status=404).indices.delete(index=f"{namespace}papers-v1")  # type: ignore[attr-defined]
    assert all(c == 0 for c in codes.values()), codes
