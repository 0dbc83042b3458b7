"""The registry of workers: every consumer service, in one table. The runner (`paperwire run`), the settings
documentation (`paperwire settings`, the README), the Docker HEALTHCHECK (`paperwire healthcheck`), the
health-port defaults of ConsumerSettings and tests/unit/test_deploy_files.py all read it.

A worker's service class is built as `cls(backends, settings[, encoder=...])` and exposes `loop()` (its
ConsumerLoop); `tasks` names coroutine methods `method(stop: asyncio.Event)` the runner starts beside the loop;
`ready` names a coroutine method returning more checks (`dict[str, bool]`) for the worker's /readyz.

To add a worker: write `paperwire_<name>/service.py` and `settings.py` (a ConsumerSettings with the env prefix
PAPERWIRE_<NAME>_), add one `Worker(...)` line below, run `make readme`, and add the service to
docker-compose.yml and deploy/prometheus/ (tests/unit/test_deploy_files.py lists what is missing).

Only import paths here (no imports of the services): paperwire_common.settings reads this module.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Worker:
    name: str
    service: str  # "module:Class" of the service
    settings: str  # "module:Class" of its settings (a ConsumerSettings)
    health_port: int  # default port of /healthz, /readyz, /metrics when run alone
    run_all: bool = True  # started by `paperwire run all`
    encoder: bool = False  # gets the process's sentence encoder (encoder=...)
    tasks: tuple[tuple[str, str], ...] = ()  # (task name, coroutine method) started beside the loop
    # What /readyz probes besides the consumer (paperwire_common.readiness): "bus", "index", "redis".
    needs: tuple[str, ...] = ("bus",)
    ready: str | None = None  # coroutine method: its checks join the consumer's in /readyz

    def service_class(self) -> type[Any]:
        return load(self.service)

    def settings_class(self) -> type[Any]:
        return load(self.settings)


def load(path: str) -> Any:
    """The object at "module:name"."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


WORKERS: dict[str, Worker] = {
    w.name: w
    for w in (
        Worker(
            "enricher",
            "paperwire_enricher.service:Enricher",
            "paperwire_enricher.settings:EnricherSettings",
            9101,
            encoder=True,
        ),
        Worker(
            "indexer",
            "paperwire_indexer.service:Indexer",
            "paperwire_indexer.settings:IndexerSettings",
            9102,
            needs=("bus", "index"),
        ),
        Worker(
            "trending",
            "paperwire_trending.service:Trending",
            "paperwire_trending.settings:TrendingSettings",
            9103,
            tasks=(("topics", "run_topics"),),
            needs=("bus", "redis"),
        ),
        Worker(
            "notifier",
            "paperwire_notifier.service:Notifier",
            "paperwire_notifier.settings:NotifierSettings",
            9104,
            tasks=(("deliveries", "run_deliveries"),),
            ready="ready",
            needs=("bus", "index", "redis"),  # the digest reads the index and the trend store
        ),
    )
}

# The gateway is no worker (no consumer loop): its health endpoints are on its HTTP port, GatewaySettings.port.
GATEWAY_SETTINGS = "paperwire_gateway.settings:GatewaySettings"


def health_ports() -> dict[str, int]:
    """Worker name -> default health port."""
    return {w.name: w.health_port for w in WORKERS.values()}


def health_ports_text() -> str:
    """ "enricher 9101, indexer 9102, ..." (settings descriptions, the README)."""
    return ", ".join(f"{w.name} {w.health_port}" for w in WORKERS.values())
