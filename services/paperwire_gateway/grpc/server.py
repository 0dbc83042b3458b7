"""The gRPC server: paperwire.v1.Papers (papers.py + watch.py), grpc.health.v1.Health and server reflection
(so grpcurl and other generic clients need no .proto files), plaintext on PAPERWIRE_GATEWAY_GRPC_HOST
(127.0.0.1 by default) : PAPERWIRE_GATEWAY_GRPC_PORT; keys and quotas as on REST (auth.py).

Health tells the truth: SERVING only while the gateway is ready (the checks of /readyz: the index answers and
every in-process service has started), for the whole server ("") and for paperwire.v1.Papers. Check looks at
readiness when asked; Watch sees a change within a second (the monitor task)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from paperwire.v1 import papers_pb2, papers_pb2_grpc
from paperwire_common import readiness as probing
from paperwire_common.keys import Scope
from paperwire_common.logging import get_logger

from ..deps import GatewayContext
from .auth import METHOD_SCOPES, KeyInterceptor
from .papers import PapersReads
from .watch import TopicEventWatch

log = get_logger(__name__)
PAPERS = papers_pb2.DESCRIPTOR.services_by_name["Papers"].full_name
SHUTDOWN_GRACE_S = 5.0
SERVICES = ("", "paperwire.v1.Papers")
SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


class ReadinessHealth(health_aio.HealthServicer):
    def __init__(self, ctx: GatewayContext) -> None:
        super().__init__()
        self.ctx = ctx
        self._lock = asyncio.Lock()

    async def ready(self) -> bool:
        """What /readyz says: the backends answer (bounded probes) and every in-process service is ready."""
        try:
            in_process = self.ctx.readiness() if self.ctx.readiness else {}
            states = {name: None if ok else "not ready" for name, ok in in_process.items()}
            ok, _ = await probing.readiness(self.ctx.probes, states)
        except Exception:
            log.warning("grpc.health_check_failed", exc_info=True)
            return False
        return ok

    async def refresh(self) -> None:
        async with self._lock:
            status = SERVING if await self.ready() else NOT_SERVING
            for name in SERVICES:
                await self.set(name, status)

    async def Check(self, request: Any, context: Any) -> Any:
        await self.refresh()
        return await super().Check(request, context)

    async def monitor(self, stop: asyncio.Event, interval_s: float = 1.0) -> None:
        """Keep the status current for Watch until `stop`; then NOT_SERVING for good."""
        while not stop.is_set():
            await self.refresh()
            try:
                await asyncio.wait_for(stop.wait(), interval_s)
            except TimeoutError:
                pass
        await self.enter_graceful_shutdown()


class PapersService(PapersReads, papers_pb2_grpc.PapersServicer):
    """The whole paperwire.v1.Papers service: the unary reads and the topic event stream."""

    def __init__(self, ctx: GatewayContext) -> None:
        super().__init__(ctx)
        self.watch = TopicEventWatch(ctx.bus, ctx.settings.grpc_max_watchers)

    async def WatchTopicEvents(self, request: Any, context: Any) -> AsyncIterator[Any]:
        # An async generator itself: grpc.aio tells streaming handlers apart by their function kind.
        async for event in self.watch.WatchTopicEvents(request, context):
            yield event


def build(
    ctx: GatewayContext, scopes: Mapping[str, Scope] = METHOD_SCOPES
) -> tuple[grpc.aio.Server, PapersService, ReadinessHealth]:
    """The server with its services, behind the key and quota checks of REST (auth.py; `scopes`: the methods that
    need one)."""
    keys = KeyInterceptor(ctx.guard, ctx.settings.public_reads, scopes)
    server = grpc.aio.server(interceptors=[keys])
    papers = PapersService(ctx)
    health = ReadinessHealth(ctx)
    papers_pb2_grpc.add_PapersServicer_to_server(papers, server)
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    names = (PAPERS, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME)
    reflection.enable_server_reflection(names, server)
    return server, papers, health


async def serve_grpc(
    ctx: GatewayContext, host: str, port: int, stop: asyncio.Event, scopes: Mapping[str, Scope] = METHOD_SCOPES
) -> None:
    """Serve until `stop`: then health says NOT_SERVING, open streams end, calls in flight get a grace."""
    server, papers, health = build(ctx, scopes)
    where = f"[{host}]" if ":" in host else host  # an IPv6 address
    bound = server.add_insecure_port(f"{where}:{port}")
    if not bound:
        raise RuntimeError(f"gRPC could not bind {where}:{port}")
    await server.start()
    log.info("grpc.listening", address=f"{where}:{bound}", services=[PAPERS, "grpc.health.v1.Health"])
    monitor = asyncio.create_task(health.monitor(stop))
    try:
        await stop.wait()
    finally:
        papers.watch.closing.set()
        with contextlib.suppress(Exception):
            await monitor
        await server.stop(grace=SHUTDOWN_GRACE_S)
