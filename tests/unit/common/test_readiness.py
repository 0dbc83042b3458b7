"""Readiness probes: concurrent, bounded, and naming what fails."""

from __future__ import annotations

import asyncio
import time

from paperwire_common import readiness
from paperwire_common.backends import make_backends
from paperwire_common.settings import CommonSettings


async def ok() -> bool:
    return True


async def refused() -> bool:
    raise ConnectionRefusedError("connect call failed")


async def blackholed() -> bool:
    await asyncio.sleep(3600)
    return True


async def test_failing_parts_are_named_and_a_hung_probe_is_bounded() -> None:
    t0 = time.monotonic()
    ready, body = await readiness.readiness(
        {"kafka": ok, "elasticsearch": blackholed, "redis": refused}, {"consumer": None}
    )
    # Concurrent and bounded: a server that never answers costs one probe timeout, not the client's retries.
    assert time.monotonic() - t0 < readiness.PROBE_TIMEOUT_S + 1
    assert not ready and body["status"] == "not ready"
    assert body["checks"] == {"kafka": True, "elasticsearch": False, "redis": False, "consumer": True}
    assert "no answer within" in body["failing"]["elasticsearch"]
    assert "ConnectionRefusedError" in body["failing"]["redis"] and set(body["failing"]) == {"elasticsearch", "redis"}


async def test_ready_when_every_part_answers() -> None:
    ready, body = await readiness.readiness({"kafka": ok}, {"consumer": None})
    assert ready and body == {"status": "ready", "checks": {"kafka": True, "consumer": True}}
    ready, body = await readiness.readiness({"kafka": ok}, {"consumer": "batches failing: sink down"})
    assert not ready and body["failing"] == {"consumer": "batches failing: sink down"}


async def test_parts_are_named_after_the_backend() -> None:
    b = make_backends(CommonSettings(backend="embedded"))
    assert set(readiness.probes(b, ["bus", "index", "redis"])) == {"bus", "index"}  # no Redis when embedded
    kb = make_backends(CommonSettings(backend="kafka"))
    try:
        assert set(readiness.probes(kb, ["bus", "index", "redis"])) == {"kafka", "elasticsearch", "redis"}
    finally:
        await kb.index.stop()
        await kb.redis.aclose()
