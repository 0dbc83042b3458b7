"""Gateway entrypoint: serves the REST app (and gRPC when enabled) with uvicorn in the current loop."""

from __future__ import annotations

import asyncio

import uvicorn

from paperwire_common.backends import Backends
from paperwire_common.clock import Clock
from paperwire_common.health import QuietServer
from paperwire_common.keys.master import resolve_master_key
from paperwire_common.logging import get_logger
from paperwire_common.search.service import QueryEncoder
from paperwire_common.subscriptions.settings import NotifySettings

from .app import create_app
from .deps import PaperIngest, Readiness
from .settings import GatewaySettings
from .timeouts import deadline_protocol

log = get_logger(__name__)


class Gateway:
    def __init__(
        self,
        backends: Backends,
        settings: GatewaySettings | None = None,
        readiness: Readiness | None = None,
        encoder: QueryEncoder | None = None,
        ingest: PaperIngest | None = None,
        *,
        clock: Clock | None = None,
        notify_settings: NotifySettings | None = None,
        master_key: str | None = None,
    ) -> None:
        """`master_key`: default PAPERWIRE_MASTER_KEY (or the embedded data dir's master.key). Raises
        MasterKeyMissing on the kafka backend without one (the gateway refuses to start: replicas must share it)."""
        self.settings = settings or GatewaySettings()
        self.backends = backends
        master = master_key or resolve_master_key(backends.settings)
        self.app = create_app(
            backends,
            self.settings,
            readiness,
            encoder,
            clock=clock,
            notify_settings=notify_settings,
            master_key=master,
            ingest=ingest,
        )
        # One KeyService per process: REST and gRPC verify keys with the same cache.
        self.keys = self.app.state.ctx.keys
        config = uvicorn.Config(
            self.app,
            host=self.settings.host,
            port=self.settings.port,
            log_config=None,
            access_log=False,
            lifespan="off",
            http=deadline_protocol(self.settings.header_timeout_s, self.settings.body_timeout_s),
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
