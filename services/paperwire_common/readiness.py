"""Readiness that tells the truth: can this service reach what it needs *now*, and is its consumer working?

Each part is probed on every /readyz call, concurrently and bounded (a blackholed server must make the probe
fail in `PROBE_TIMEOUT_S`, not hang the endpoint), so readiness fails while a dependency is unreachable and
recovers by itself when it is back. The body names the failing parts and why:

    {"status": "not ready", "checks": {"kafka": true, "elasticsearch": false, "consumer": false},
     "failing": {"elasticsearch": "no answer within 2s", "consumer": "ConnectionError: ..."}}

Parts are named after what is reached: kafka, elasticsearch, redis on the real backends; bus and index for the
in-process ones of the embedded default.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from .backends import Backends
from .consumer import ConsumerLoop

PROBE_TIMEOUT_S = 2.0
Probe = Callable[[], Awaitable[bool]]


def _bus_name(bus: Any) -> str:
    from .bus.kafka import KafkaBus

    return "kafka" if isinstance(bus, KafkaBus) else "bus"


def _index_name(index: Any) -> str:
    from .search.elastic import ElasticIndex

    return "elasticsearch" if isinstance(index, ElasticIndex) else "index"


def probes(b: Backends, needs: Iterable[str]) -> dict[str, Probe]:
    """The probes of the parts a service needs: "bus", "index" and/or "redis" (skipped where absent)."""
    out: dict[str, Probe] = {}
    for need in needs:
        if need == "bus":
            ready = getattr(b.bus, "ready", None)
            out[_bus_name(b.bus)] = ready if ready is not None else _always
        elif need == "index":
            out[_index_name(b.index)] = b.index.ready
        elif need == "redis" and b.redis is not None:
            out["redis"] = _pinger(b.redis)
        elif need not in ("bus", "index", "redis"):
            raise ValueError(f"unknown part {need!r}")
    return out


def _pinger(redis: Any) -> Probe:
    async def ping() -> bool:
        return bool(await redis.ping())

    return ping


async def _always() -> bool:
    return True


async def _probe(probe: Probe) -> str | None:
    """None when the part answers, else why not."""
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            return None if await probe() else "not ready"
    except TimeoutError:
        return f"no answer within {PROBE_TIMEOUT_S:.0f}s"
    except Exception as e:
        return f"{type(e).__name__}: {e}"[:300]


def consumer_state(loop: ConsumerLoop) -> str | None:
    """None when the loop consumes normally, else why not (not started, halted on poison, batches failing)."""
    if not loop.started:
        return "not started"
    if loop.halted is not None:
        return f"halted: {loop.halted}"
    if loop.failing is not None:
        return f"batches failing: {loop.failing}"
    return None


async def readiness(
    parts: Mapping[str, Probe], states: Mapping[str, str | None] | None = None
) -> tuple[bool, dict[str, Any]]:
    """Probe every part concurrently; `states` adds parts already known (None = fine, else why not)."""
    names = list(parts)
    results = dict(zip(names, await asyncio.gather(*(_probe(parts[n]) for n in names)), strict=True))
    results.update(states or {})
    failing = {n: why for n, why in results.items() if why is not None}
    body: dict[str, Any] = {
        "status": "not ready" if failing else "ready",
        "checks": {n: why is None for n, why in results.items()},
    }
    if failing:
        body["failing"] = failing
    return not failing, body
