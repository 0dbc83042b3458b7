"""Indexer entrypoint: papers.enriched.v1 and papers.topics.v1 -> SearchIndex (Elasticsearch or embedded).

One consumer reads both streams: they are keyed by paper id with the same partition count, and a batch is
written before the next is read, so a paper's document and its topic assignment are never written at once by
this process (the index's set_topics/upsert keep the recorded assignment either way)."""

from __future__ import annotations

from pydantic import BaseModel

from paperwire_common.backends import Backends
from paperwire_common.clock import Clock, SystemClock
from paperwire_common.consumer import ConsumerLoop
from paperwire_common.envelope import Decoded
from paperwire_common.events import PaperEnriched, PaperTopics
from paperwire_common.metrics import INDEX_DOCS
from paperwire_common.streams import PAPER_TOPICS, PAPERS_ENRICHED

from .handlers import latest_assignments, latest_documents
from .settings import IndexerSettings

NAME = "indexer"


class Indexer:
    def __init__(self, backends: Backends, settings: IndexerSettings | None = None, clock: Clock | None = None):
        self.b = backends
        self.settings = settings or IndexerSettings()
        self.clock = clock or SystemClock()

    async def handle(self, batch: list[Decoded[BaseModel]]) -> list[tuple[Decoded[BaseModel], str]]:
        events = [d.event for d in batch if isinstance(d.event, PaperEnriched)]
        failures = await self.b.index.upsert(latest_documents(events))
        await self.b.index.set_topics(latest_assignments([d.event for d in batch if isinstance(d.event, PaperTopics)]))
        if not failures:
            return []
        # Dead-letter every record of a paper whose document was refused for good.
        why = {f.paper_id: f.reason for f in failures}
        return [
            (d, why[d.event.paper.paper_id])
            for d in batch
            if isinstance(d.event, PaperEnriched) and d.event.paper.paper_id in why
        ]

    async def observe(self) -> None:
        INDEX_DOCS.labels(NAME).set(await self.b.index.count())

    def loop(self) -> ConsumerLoop:
        group = self.settings.group or f"paperwire-{NAME}"
        return ConsumerLoop(
            service=NAME,
            group=group,
            consumer=self.b.bus.consumer(group, [PAPERS_ENRICHED.name, PAPER_TOPICS.name]),
            producer=self.b.bus,
            handler=self.handle,
            settings=self.settings,
            clock=self.clock,
            observe=self.observe,
        )
