"""paperwire_index_documents reads the index's real size (regression: it was never set, so it read 0 with every
paper indexed) — on the embedded backend here, the same code on Elasticsearch."""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY

from paperwire_common.backends import make_backends
from paperwire_common.envelope import encode
from paperwire_common.events import PaperEnriched, PaperRaw
from paperwire_common.settings import CommonSettings
from paperwire_common.streams import PAPERS_ENRICHED
from paperwire_indexer.service import Indexer
from paperwire_indexer.settings import IndexerSettings


def enriched(i: int) -> PaperEnriched:
    raw = PaperRaw(
        paper_id=f"title:{i:06d}", version=1, content_hash=f"{i:08x}", title=f"Paper {i}", source="t", ingested_at=0
    )
    return PaperEnriched(paper=raw, enriched_at=0)


async def test_index_documents_gauge_reads_the_index() -> None:
    b = make_backends(CommonSettings(backend="embedded"))
    await b.start()
    await b.bus.publish(
        [
            encode(PAPERS_ENRICHED, e, key=e.paper.paper_id, event_id=f"e{i}", source="t", time=0)
            for i, e in enumerate(enriched(i) for i in range(37))
        ]
    )
    loop = Indexer(b, IndexerSettings(batch_size=10)).loop()
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        async with asyncio.timeout(20):
            while REGISTRY.get_sample_value("paperwire_index_documents", {"service": "indexer"}) != 37:
                await asyncio.sleep(0.05)
        assert await b.index.count() == 37
    finally:
        stop.set()
        await task
        await b.stop()
