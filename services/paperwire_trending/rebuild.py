"""`paperwire trending rebuild`: recompute every score from the Kafka topics.

The store's scores are a pure function of engagement.v1 and papers.enriched.v1 (event time, never the wall
clock, decides every contribution), so replaying both topics from the beginning into an empty store gives
the live state back.

- `--check` replays into a scratch store (its own key prefix) and compares it with the live store: same
  ranking and scores equal to 1e-9 relative, per window; the live store is not touched.
- without `--check` the live store is reset and rebuilt in place. Stop the trending service first: the
  rebuilt store records the offsets it reached under the service's group, so the service resumes there.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from paperwire_common.backends import Backends
from paperwire_common.clock import Clock, SystemClock
from paperwire_common.logging import get_logger
from paperwire_common.streams import ENGAGEMENT, PAPER_TOPICS, PAPERS_ENRICHED
from paperwire_common.trends import make_trend_store
from paperwire_common.trends.port import TrendStore

from .service import Trending
from .settings import TrendingSettings

log = get_logger(__name__)


async def replay(b: Backends, store: TrendStore, settings: TrendingSettings, clock: Clock) -> int:
    """Drain the trending streams from their beginnings into `store` with a throwaway consumer group."""
    group = settings.group or "paperwire-trending"
    trending = Trending(b, settings.model_copy(update={"group": group}), clock, store)
    loop = trending.loop()
    # The Kafka group is fresh (read from the beginning); the store keeps offsets under the service's group.
    loop.consumer = b.bus.consumer(f"{group}-rebuild-{uuid.uuid4().hex[:8]}", loop.consumer.topics)
    until = {}
    for topic in (ENGAGEMENT.name, PAPERS_ENRICHED.name, PAPER_TOPICS.name):
        until.update({(topic, p): end for p, end in (await b.bus.end_offsets(topic)).items()})
    return await loop.drain(until)


@dataclass
class Comparison:
    windows: dict[str, dict[str, Any]]

    @property
    def equal(self) -> bool:
        return all(w["same_ranking"] and w["max_rel_diff"] <= 1e-9 for w in self.windows.values())


async def compare(live: TrendStore, rebuilt: TrendStore, now: float, size: int = 10_000) -> Comparison:
    out: dict[str, dict[str, Any]] = {}
    for w in live.half_lives:
        a, b = await live.top(w, None, size, now), await rebuilt.top(w, None, size, now)
        diffs = [abs(x - y) / max(abs(x), abs(y), 1e-300) for (_, x), (_, y) in zip(a, b, strict=False)]
        out[w] = {
            "papers": len(a),
            "same_ranking": [p for p, _ in a] == [p for p, _ in b],
            "max_rel_diff": max(diffs, default=0.0),
        }
    return Comparison(out)


async def rebuild(
    b: Backends, *, check: bool, settings: TrendingSettings | None = None, clock: Clock | None = None
) -> dict[str, Any]:
    settings = settings or TrendingSettings()
    clock = clock or SystemClock()
    live = b.trends
    t0 = time.monotonic()
    if check:
        scratch = make_trend_store(
            b.redis,
            settings.half_lives(),
            horizon_s=settings.dedupe_horizon_s,
            prefix=f"{b.settings.namespace}paperwire:trend-check-{uuid.uuid4().hex[:6]}:{{pw}}",
        )
        try:
            n = await replay(b, scratch, settings, clock)
            cmp = await compare(live, scratch, clock.now())
        finally:
            await scratch.reset()
        result = {"records": n, "equal": cmp.equal, "windows": cmp.windows}
    else:
        await live.reset()
        n = await replay(b, live, settings, clock)
        result = {"records": n, "rebuilt": True}
    result["seconds"] = round(time.monotonic() - t0, 1)
    log.info("trending.rebuild", **{k: v for k, v in result.items() if k != "windows"})
    return result
