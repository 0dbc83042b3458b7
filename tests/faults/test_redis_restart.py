"""Redis killed (kill -9) and restarted empty (the suite's own server: no RDB, no AOF), then
`paperwire trending rebuild`: the rebuilt scores equal those before the kill (1e-9 relative, the same papers in
every window), and live scoring resumes where the rebuild left off."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from paperwire_common.backends import Backends
from paperwire_trending.settings import TrendingSettings
from tests.conftest import ROOT

from . import check
from .check import FaultResult
from .drive import Clock, Progress, ingest, publish_events, verify, wait_until
from .prom import Prometheus
from .servers import FaultServers, logdir
from .stack import Stack
from .workload import make_workload

pytestmark = [pytest.mark.faults, pytest.mark.kafka, pytest.mark.elasticsearch, pytest.mark.redis, pytest.mark.slow]
PAPERS, REVISE_EVERY, EVENTS = 5_000, 10, 30_000


def rebuild(env: dict[str, str]) -> str:
    r = subprocess.run(
        [sys.executable, "-m", "paperwire_cli.main", "trending", "rebuild"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    return r.stdout.strip()


@pytest.mark.timeout(900)
async def test_redis_killed_and_restarted_empty_then_rebuilt(
    fault_servers: FaultServers,
    direct_backends: Backends,
    prometheus: Prometheus,
    namespace: str,
    tmp_path: Path,
    fault_result: FaultResult,
) -> None:
    r = fault_result
    w = make_workload(tmp_path, "redis", papers=PAPERS, revise_every=REVISE_EVERY, events=EVENTS, t0=time.time() - 7200)
    r.workload, r.fault = w.describe(), "Redis kill -9, restarted empty, `paperwire trending rebuild`"
    direct = fault_servers.endpoints(proxied=False)
    bootstrap, es_url, redis_url = (direct[k] for k in direct)
    settings = TrendingSettings()
    stack = Stack(namespace, direct, logdir(namespace), prometheus, test="redis-restart")
    half = len(w.batches) // 2
    try:
        for name in ("enricher", "indexer", "trending"):
            stack.add(name)
        await asyncio.to_thread(stack.wait_ready)
        clock, progress = Clock(), Progress()
        await asyncio.gather(
            ingest(direct_backends, w, progress), publish_events(direct_backends, w, progress, batches=w.batches[:half])
        )
        await check.wait_converged(bootstrap, es_url, namespace, len(w.versions), 300)
        redis = Redis.from_url(redis_url)
        try:
            before = await check.scores(check.trend_store(redis, namespace, settings), w.now)
        finally:
            await redis.aclose()
        assert all(before.values()), "nothing was scored before the fault"

        os.kill(fault_servers.redis.pid(), signal.SIGKILL)
        clock.mark("killed")
        await asyncio.sleep(5)
        [trending] = stack.by_name("trending")
        status, body = await asyncio.to_thread(trending.readyz)
        assert status == 503 and "redis" in body["failing"], body
        r.notes.append(f"trending /readyz with Redis down: 503 {body['failing']}")
        await asyncio.to_thread(fault_servers.redis.up)
        clock.mark("restarted")
        redis = Redis.from_url(redis_url)
        try:
            assert await redis.dbsize() == 0, "Redis must come back empty for this test to mean anything"
            # The operator's procedure: stop the scorer, rebuild, start it again.
            assert trending.stop() == 0
            env = {**trending.env}
            out = rebuild(env)
            clock.mark("rebuilt")
            r.notes.append(f"rebuild: {out} ({clock.marks['rebuilt'] - clock.marks['restarted']:.1f}s)")
            after = await check.scores(check.trend_store(redis, namespace, settings), w.now)
        finally:
            await redis.aclose()
        worst, problems = check.score_diff(after, before)
        r.notes.append(f"rebuilt vs before the kill: max rel diff {worst:.1e}")
        assert not problems, "\n".join(problems)

        stack.remove(trending)
        stack.add("trending")
        await asyncio.to_thread(stack.wait_ready)
        await publish_events(direct_backends, w, progress, batches=w.batches[half:])

        async def converged() -> bool:
            return await check.drained(bootstrap, namespace)

        await wait_until(converged, 300, "live scoring to catch up", every=1)
        r.recovery_s = clock.since("restarted")
        stack.check_alive()
        await verify(
            r,
            bootstrap=bootstrap,
            es_url=es_url,
            redis_url=redis_url,
            ns=namespace,
            workloads=[w],
            progress=progress,
            settings=settings,
        )
        r.alerts = prometheus.fired_between(clock.start, time.time(), namespace)
    finally:
        codes = stack.close()
        await direct_backends.index.es.options(ignore_status=404).indices.delete(index=f"{namespace}papers-v1")  # type: ignore[attr-defined]
    assert all(c == 0 for c in codes.values()), codes
