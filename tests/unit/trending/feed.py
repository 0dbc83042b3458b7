"""Decoded events with consecutive offsets, fed straight into Trending.handle (no bus)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pydantic import BaseModel

from paperwire_common.backends import Backends, make_backends
from paperwire_common.bus.port import Record
from paperwire_common.clock import FixedClock
from paperwire_common.envelope import Decoded
from paperwire_common.events import Engagement, PaperEnriched, PaperRaw
from paperwire_common.settings import CommonSettings
from paperwire_common.streams import ENGAGEMENT, PAPERS_ENRICHED
from paperwire_common.trends import EmbeddedTrendStore
from paperwire_trending.service import Trending
from paperwire_trending.settings import TrendingSettings

T = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a UTC day boundary
H = 3600.0
D = 86_400.0


def embedded_backends() -> Backends:
    return make_backends(CommonSettings(backend="embedded", embeddings=False, embedded_data_dir=None))


class Feed:
    """Builds events (partition 0 unless told) and runs them through one Trending service."""

    def __init__(self, settings: TrendingSettings | None = None, now: float = T, **store_kw: Any) -> None:
        self.settings = settings or TrendingSettings()
        self.clock = FixedClock(now)
        self.store = EmbeddedTrendStore(
            self.settings.half_lives(), horizon_s=self.settings.dedupe_horizon_s, **store_kw
        )
        self.svc = Trending(embedded_backends(), self.settings, self.clock, self.store)
        self.offsets: dict[tuple[str, int], int] = defaultdict(int)
        self.n = 0

    def _record(self, topic: str, key: str, partition: int) -> Record:
        off = self.offsets[(topic, partition)]
        self.offsets[(topic, partition)] += 1
        return Record(topic, key, b"", (), partition, off, 0.0)

    def paper(
        self, paper_id: str, ingested_at: float, topics: list[str] | None = None, version: int = 1, partition: int = 0
    ) -> Decoded[BaseModel]:
        raw = PaperRaw(
            paper_id=paper_id,
            version=version,
            content_hash="0123456789abcdef",
            title=f"Paper {paper_id}",
            source="jsonl",
            ingested_at=ingested_at,
        )
        ev = PaperEnriched(paper=raw, topics=topics or [], enriched_at=ingested_at)
        self.n += 1
        return Decoded(self._record(PAPERS_ENRICHED.name, paper_id, partition), ev, f"pe{self.n}")

    def eng(
        self,
        type: str,
        paper_id: str,
        ts: float,
        actor: str = "u1",
        *,
        id: str | None = None,
        stars: int | None = None,
        partition: int = 0,
    ) -> Decoded[BaseModel]:
        self.n += 1
        ev = Engagement(
            id=id or f"e{self.n}",
            paper_id=paper_id,
            type=type,
            actor_id=actor,
            ts=ts,
            stars=stars,
        )
        return Decoded(self._record(ENGAGEMENT.name, paper_id, partition), ev, f"ce{self.n}")

    async def run(self, *batch: Decoded[BaseModel]) -> list[tuple[Decoded[BaseModel], str]]:
        return await self.svc.handle(list(batch))

    async def score(self, paper_id: str, window: str = "24h", now: float | None = None) -> float:
        return (await self.store.scores(paper_id, self.clock.now() if now is None else now)).get(window, 0.0)
