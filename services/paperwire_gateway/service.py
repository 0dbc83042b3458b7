"""Gateway entrypoint: serves the REST app (and gRPC when enabled) with uvicorn in the current loop."""

from __future__ import annotations

import asyncio

import uvicorn

from paperwire_common.backends import Backends
from paperwire_common.clock import Clock
from paperwire_common.health import QuietServer
from paperwire_common.logging import get_logger
from paperwire_common.search.service import QueryEncoder
from paperwire_common.subscriptions.settings import NotifySettings

from .app import create_app
from .deps import Readiness
from .settings import GatewaySettings

log = get_logger(__name__)


class Gateway:
    def __init__(
        self,
        backends: Backends,
        settings: GatewaySettings | None = None,
        readiness: Readiness | None = None,
        encoder: QueryEncoder | None = None,
        *,
        clock: Clock | None = None,
        notify_settings: NotifySettings | None = None,
    ) -> None:
        self.settings = settings or GatewaySettings()
        self.backends = backends
        self.app = create_app(backends, self.settings, readiness, encoder, clock=clock, notify_settings=notify_settings)
        config = uvicorn.Config(
            self.app,
            host=self.settings.host,
            port=self.settings.port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
        self.server = QuietServer(config)

    async def run(self, stop: asyncio.Event) -> None:
        task = asyncio.create_task(self.server.serve())
        grpc_task = None
        if self.settings.grpc_port:
            from .grpc import serve_grpc

            grpc_task = asyncio.create_task(
                serve_grpc(self.app.state.ctx, self.settings.grpc_host, self.settings.grpc_port, stop)
            )
        log.info(
            "gateway.listening",
            url=f"http://{self.settings.host}:{self.settings.port}",
            grpc=f"{self.settings.grpc_host}:{self.settings.grpc_port}" if grpc_task else "off",
        )
        await stop.wait()
        self.server.should_exit = True
        await task
        if grpc_task:
            await grpc_task

    @property
    def started(self) -> bool:
        return bool(self.server.started)
