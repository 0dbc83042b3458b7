"""grpc.health.v1.Health that tells the truth: SERVING only while the gateway is ready (the same checks as
/readyz: the index answers and every in-process service has started), for the whole server ("") and for
paperwire.v1.Papers. Check looks at readiness when asked; Watch gets a change within `interval_s`."""

from __future__ import annotations

import asyncio
from typing import Any

from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio

from paperwire_common.logging import get_logger

from ..deps import GatewayContext

log = get_logger(__name__)
SERVICES = ("", "paperwire.v1.Papers")
SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


class ReadinessHealth(health_aio.HealthServicer):
    def __init__(self, ctx: GatewayContext) -> None:
        super().__init__()
        self.ctx = ctx
        self._lock = asyncio.Lock()

    async def ready(self) -> bool:
        try:
            checks = {"index": await self.ctx.index.ready(), **(self.ctx.readiness() if self.ctx.readiness else {})}
        except Exception:
            log.warning("grpc.health_check_failed", exc_info=True)
            return False
        return all(checks.values())

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
