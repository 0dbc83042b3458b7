"""An in-process pipeline (ingestor -> enricher -> indexer) on either backend, for end-to-end tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from paperwire_cli.runner import build_worker, wait_drained
from paperwire_common.backends import Backends, make_backends
from paperwire_common.consumer import ConsumerLoop
from paperwire_common.settings import CommonSettings
from paperwire_ingestor.handlers import Summary
from paperwire_ingestor.service import Ingestor
from paperwire_ingestor.settings import IngestorSettings


@dataclass
class Pipeline:
    backends: Backends
    loops: dict[str, ConsumerLoop]

    async def ingest(self, path: str, fmt: str = "auto") -> Summary:
        return await Ingestor(self.backends, IngestorSettings(progress=False)).ingest_path(path, fmt)

    async def settle(self, timeout_s: float = 120) -> None:
        await wait_drained(list(self.loops.values()), self.backends.bus, timeout_s)
        await self.backends.index.refresh()


@asynccontextmanager
async def pipeline(
    backend: str, namespace: str = "", workers: tuple[str, ...] = ("enricher", "indexer"), **settings: Any
) -> AsyncIterator[Pipeline]:
    common = CommonSettings(backend=backend, namespace=namespace, **{"embeddings": False, **settings})
    b = make_backends(common)
    await b.start()
    loops = {n: build_worker(n, b, common)[1] for n in workers}
    stop = asyncio.Event()
    tasks = [asyncio.create_task(lp.run(stop)) for lp in loops.values()]
    try:
        yield Pipeline(b, loops)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        if backend == "kafka":
            es = b.index.es.options(ignore_status=404)  # type: ignore[attr-defined]
            await es.indices.delete(index=f"{namespace}papers-v1")
            await es.indices.delete(index=f"{namespace}papers-topics")  # the recorded topic assignments
        await b.stop()
