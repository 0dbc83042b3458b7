"""Enricher entrypoint: papers.raw.v1 -> keyphrases, links, methods/datasets, embeddings -> papers.enriched.v1."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel

from paperwire_common.backends import Backends
from paperwire_common.bus.port import Message
from paperwire_common.clock import Clock, SystemClock
from paperwire_common.consumer import ConsumerLoop
from paperwire_common.envelope import Decoded, encode
from paperwire_common.events import PaperRaw
from paperwire_common.ids import event_id
from paperwire_common.logging import get_logger
from paperwire_common.streams import PAPERS_ENRICHED, PAPERS_RAW

from .handlers import enrich
from .keyphrases import KeyphraseExtractor, NoKeyphrases, YakeExtractor
from .settings import EnricherSettings

log = get_logger(__name__)
NAME = "enricher"


def load_encoder(settings: EnricherSettings, enabled: bool) -> Any:
    """The sentence encoder, or None when embeddings are off or the model stack is missing."""
    if not enabled:
        return None
    from .embeddings import EmbeddingUnavailable, load_default_encoder

    try:
        return load_default_encoder(
            max_tokens=settings.embedding_max_tokens,
            intra_op_num_threads=settings.embedding_threads or None,
            int8_ffn=settings.embedding_int8_ffn,
        )
    except EmbeddingUnavailable as e:  # the model stack is optional: search degrades to keyword
        log.warning("enricher.embeddings_unavailable", reason=str(e))
        return None


class Enricher:
    def __init__(
        self,
        backends: Backends,
        settings: EnricherSettings | None = None,
        clock: Clock | None = None,
        encoder: Any = None,
    ):
        self.b = backends
        self.settings = settings or EnricherSettings()
        self.clock = clock or SystemClock()
        self.encoder = encoder
        self.keyphrases: KeyphraseExtractor = YakeExtractor() if self.settings.keyphrases == "yake" else NoKeyphrases()

    def _enrich_all(self, raws: list[tuple[Decoded[BaseModel], PaperRaw]]) -> list[Message]:
        """CPU-bound when the model or YAKE is on: handle() then runs it in a worker thread, so the event loop
        keeps Kafka heartbeats going."""
        from .embeddings import paper_text

        vectors = None
        if self.encoder is not None and raws:
            vectors = self.encoder.encode([paper_text(r.title, r.abstract) for _, r in raws])
        out = []
        for i, (d, raw) in enumerate(raws):
            e = enrich(
                raw,
                keyphrases=self.keyphrases,
                n_keyphrases=self.settings.keyphrases_per_paper,
                embedding=vectors[i] if vectors is not None else None,
                embedding_model=getattr(self.encoder, "model_id", None),
                now=raw.ingested_at,
            )
            out.append(
                encode(
                    PAPERS_ENRICHED,
                    e,
                    key=raw.paper_id,
                    event_id=event_id(d.event_id, "enriched"),
                    source="paperwire/enricher",
                    time=self.clock.now(),
                )
            )
        return out

    async def handle(self, batch: list[Decoded[BaseModel]]) -> list[tuple[Decoded[BaseModel], str]]:
        raws = [(d, d.event) for d in batch if isinstance(d.event, PaperRaw)]
        if self.encoder is None and isinstance(self.keyphrases, NoKeyphrases):
            # Links and entities only (~0.1 ms a paper): a thread hop would cost more than it keeps the loop free.
            out = self._enrich_all(raws)
        else:
            out = await asyncio.to_thread(self._enrich_all, raws)
        if out:
            await self.b.bus.publish(out)
        return []

    def loop(self) -> ConsumerLoop:
        group = self.settings.group or f"paperwire-{NAME}"
        return ConsumerLoop(
            service=NAME,
            group=group,
            consumer=self.b.bus.consumer(group, [PAPERS_RAW.name]),
            producer=self.b.bus,
            handler=self.handle,
            settings=self.settings,
            clock=self.clock,
        )
