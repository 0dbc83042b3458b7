"""Run one service, or all of them in one process (the embedded default behind `make run`)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from paperwire_common import readiness
from paperwire_common.backends import Backends, make_backends
from paperwire_common.bus.port import EventBus
from paperwire_common.consumer import ConsumerLoop
from paperwire_common.health import health_app, serve_health
from paperwire_common.logging import get_logger
from paperwire_common.runtime import settle_heap
from paperwire_common.search.service import QueryEncoder
from paperwire_common.settings import CommonSettings
from paperwire_common.workers import GATEWAY_SETTINGS, load
from paperwire_common.workers import WORKERS as REGISTRY

log = get_logger(__name__)
# `paperwire run all` starts these workers (the registry's order is the pipeline's), the ingestor and the gateway.
WORKERS = tuple(w.name for w in REGISTRY.values() if w.run_all)
SERVICES = ("ingestor", *REGISTRY, "gateway")
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "seed_papers.jsonl"


def load_encoder(common: CommonSettings, settings: Any = None) -> QueryEncoder | None:
    """The sentence encoder of this process (None when embeddings are off or the model stack is missing);
    its settings (threads, max tokens) are the enricher's."""
    from paperwire_enricher.service import load_encoder as load_model
    from paperwire_enricher.settings import EnricherSettings

    encoder: QueryEncoder | None = load_model(settings or EnricherSettings(), common.embeddings)
    return encoder


def build_worker(name: str, b: Backends, common: CommonSettings) -> tuple[Any, ConsumerLoop]:
    """The service of a registered worker (paperwire_common.workers) and its consumer loop."""
    spec = REGISTRY.get(name)
    if spec is None:
        raise ValueError(f"unknown worker {name!r} (paperwire_common.workers.WORKERS)")
    settings = spec.settings_class()()
    extra = {"encoder": load_encoder(common, settings)} if spec.encoder else {}
    svc = spec.service_class()(b, settings, **extra)
    return svc, svc.loop()


def worker_tasks(name: str, svc: Any, stop: asyncio.Event) -> dict[str, asyncio.Task[Any]]:
    """The registered side tasks of a worker (e.g. trending's topic job), started."""
    return {task: asyncio.create_task(getattr(svc, method)(stop), name=task) for task, method in REGISTRY[name].tasks}


def health_port(service: str) -> int | None:
    """The port of a service's /healthz: the gateway's HTTP port, a worker's health port (its setting, else the
    registry's default); None for anything else."""
    if service == "gateway":
        return int(load(GATEWAY_SETTINGS)().port)
    spec = REGISTRY.get(service)
    if spec is None:
        return None
    return int(spec.settings_class()().health_port) or spec.health_port


def install_stop(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def _supervise(tasks: dict[str, asyncio.Task[Any]], stop: asyncio.Event) -> int:
    """Wait for stop; a task that dies on its own stops everything (loudly) with exit code 1."""
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([waiter, *tasks.values()], return_when=asyncio.FIRST_COMPLETED)
    code = 0
    for name, t in tasks.items():
        if t in done and not t.cancelled() and t.exception() is not None:
            log.error("service.crashed", service=name, error=repr(t.exception()))
            code = 1
    stop.set()
    await asyncio.gather(*tasks.values(), return_exceptions=True)
    waiter.cancel()
    return code


async def _drained(loop: ConsumerLoop, bus: EventBus) -> bool:
    if not loop.started:
        return False
    ends = {(t, p): end for t in loop.consumer.topics for p, end in (await bus.end_offsets(t)).items()}
    committed = await loop.consumer.committed_offsets(list(ends))
    return all(committed[tp] >= end for tp, end in ends.items())


async def wait_drained(
    loops: list[ConsumerLoop],
    bus: EventBus,
    timeout_s: float = 600,
    progress: Callable[[list[bool]], None] | None = None,
) -> None:
    """Until every consumer has committed up to the end of its topics (the pipeline is idle).

    End offsets, not lag: a Kafka consumer that has not fetched yet reports a lag of 0. Loops are checked in
    pipeline order, and each publishes before it commits, so one pass that finds all of them done is final.
    `progress` gets each pass's findings (which loops are at their ends).
    """
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        done = [await _drained(lp, bus) for lp in loops]
        if progress is not None:
            progress(done)
        if all(done):
            return
        await asyncio.sleep(0.2)
    raise TimeoutError("pipeline did not drain")


async def run_all(ingest: list[str], on_ready: Callable[[], Awaitable[None]] | None = None) -> int:
    from paperwire_common.bus.sqlite_log import LogInUse
    from paperwire_gateway.service import Gateway
    from paperwire_ingestor.service import Ingestor

    common = CommonSettings()
    try:
        b = make_backends(common)
    except LogInUse as e:  # another `run all` on this data dir
        print(f"paperwire: {e}", file=sys.stderr)
        return 1
    await b.start()
    stop = asyncio.Event()
    install_stop(stop)
    workers = {n: build_worker(n, b, common) for n in WORKERS}
    loops = [lp for _, lp in workers.values()]
    # Ready = what was accepted before this start is served: the start-up ingest published, and every consumer
    # reached the end its streams had then (after a restart: the trend store rolled forward from its snapshot).
    # Live lag afterwards is normal operation; a halted consumer is not.
    state = {"ingest": False, "caught_up": False}
    at_end = dict.fromkeys(WORKERS, False)

    def readiness() -> dict[str, bool]:
        checks = {"ingest": state["ingest"]}
        for n, (_, lp) in workers.items():
            # before the latch: this pass's finding (names the parts still behind)
            checks[n] = lp.started and lp.halted is None and (state["caught_up"] or at_end[n])
        return checks

    # One model in memory: the gateway embeds queries with the encoder a worker already loaded.
    encoder = next((svc.encoder for n, (svc, _) in workers.items() if REGISTRY[n].encoder), None)
    gateway = Gateway(b, readiness=readiness, encoder=encoder, ingest=Ingestor(b).ingest_bytes)
    settle_heap()
    tasks = {n: asyncio.create_task(lp.run(stop), name=n) for n, (_, lp) in workers.items()}
    for n, (svc, _) in workers.items():
        tasks.update(worker_tasks(n, svc, stop))
    tasks["gateway"] = asyncio.create_task(gateway.run(stop), name="gateway")

    async def ingest_then_ready() -> None:
        ing = Ingestor(b)
        for path in ingest:
            s = await ing.ingest_path(path)
            log.info("ingest.summary", source=path, summary=s.line())
        state["ingest"] = True
        # No deadline: a big start-up ingest takes as long as it takes; /readyz says meanwhile which part is behind.
        await wait_drained(loops, b.bus, math.inf, progress=lambda done: at_end.update(zip(WORKERS, done, strict=True)))
        # The first re-clustering runs once the startup ingest is indexed, so the sample's papers carry their
        # topics when the gateway says it is ready; then every PAPERWIRE_TRENDING_TOPICS_INTERVAL_S.
        trending = workers["trending"][0]
        if trending.settings.topics_enabled:
            await trending.recluster_now()
            await wait_drained(loops, b.bus, math.inf)  # the assignments reach the index and the trend store
        state["caught_up"] = True
        log.info(
            "paperwire.ready",
            documents=await b.index.count(),
            url=f"http://{gateway.settings.host}:{gateway.settings.port}",
        )
        if on_ready:
            await on_ready()
        await stop.wait()

    tasks["startup"] = asyncio.create_task(ingest_then_ready(), name="startup")
    code = await _supervise(tasks, stop)
    await b.stop()
    return code


async def run_one(name: str) -> int:
    """One service in its own process, with /healthz, /readyz, /metrics on its health port."""
    common = CommonSettings()
    b = make_backends(common, client_id=f"paperwire-{name}")
    await b.start()
    stop = asyncio.Event()
    install_stop(stop)
    tasks: dict[str, asyncio.Task[Any]] = {}
    if name == "gateway":
        from paperwire_gateway.service import Gateway
        from paperwire_ingestor.service import Ingestor

        gateway = Gateway(b, encoder=load_encoder(common), ingest=Ingestor(b).ingest_bytes)
        tasks[name] = asyncio.create_task(gateway.run(stop))
    else:
        svc, lp = build_worker(name, b, common)
        port = lp.settings.health_port or REGISTRY[name].health_port

        parts = readiness.probes(b, REGISTRY[name].needs)
        method = REGISTRY[name].ready
        own = getattr(svc, method) if method else None

        async def ready() -> tuple[bool, dict[str, Any]]:
            states = {"consumer": readiness.consumer_state(lp)}
            if own is not None:  # the worker's own checks (the notifier's subscription view)
                states |= {part: None if ok else "not ready" for part, ok in (await own()).items()}
            return await readiness.readiness(parts, states)

        tasks[name] = asyncio.create_task(lp.run(stop))
        tasks.update(worker_tasks(name, svc, stop))
        tasks["health"] = asyncio.create_task(serve_health(health_app(name, ready), common.health_host, port, stop))
        log.info("service.started", service=name, health=f"http://{common.health_host}:{port}/healthz")
    settle_heap()
    code = await _supervise(tasks, stop)
    with contextlib.suppress(Exception):
        await b.stop()
    return code
