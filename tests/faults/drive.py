"""Drive a workload into the system like its clients do, and check the end state against the oracle.

The ingestor runs in the test process (it is a one-shot command, `paperwire ingest`, in production too); an
ingest that fails under a fault is run again, as an operator would (the registry makes what was already
published a no-op). Engagement is published in batches; a batch the bus did not acknowledge is retried until it
is (its events keep their ids, so a retry can never count twice). Acknowledged = the publish returned.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from redis.asyncio import Redis

from paperwire_common.backends import Backends
from paperwire_common.clock import FixedClock
from paperwire_common.streams import ENGAGEMENT, PAPERS_ENRICHED, PAPERS_RAW
from paperwire_ingestor.records import SourceRecord
from paperwire_ingestor.service import Ingestor
from paperwire_ingestor.settings import IngestorSettings
from paperwire_trending.settings import TrendingSettings

from . import check
from .check import FaultResult
from .workload import Workload, expected_scores


@dataclass
class Progress:
    papers_published: int = 0  # ingest calls that returned (a file counts once it is all acknowledged)
    events_acked: set[str] = field(default_factory=set)
    ingest_retries: int = 0
    publish_retries: int = 0


async def _paced(records: Sequence[SourceRecord], per_s: float) -> AsyncIterator[SourceRecord]:
    t0 = time.monotonic()
    for i, rec in enumerate(records):
        if i % 100 == 0:
            await asyncio.sleep(max(0.0, t0 + i / per_s - time.monotonic()))
        yield rec


async def ingest(
    b: Backends,
    w: Workload,
    progress: Progress,
    *,
    updates: bool = True,
    pace: float | None = None,
    retry_s: float = 2,
) -> None:
    """The papers, then (updates=True) the revisions; `pace`: papers per second (None: as fast as it goes)."""
    ing = Ingestor(b, IngestorSettings(progress=False, batch_size=500), clock=FixedClock(w.t_ingest))
    files = [(w.papers, w.records), (w.updates, w.revised)] if updates else [(w.papers, w.records)]
    for path, records in files:
        while True:
            try:
                if pace:
                    s = await ing.ingest(_paced(records, pace), "jsonl")
                else:
                    s = await ing.ingest_path(str(path), "jsonl")
                assert s.rejected == 0, s.reasons[:3]
                progress.papers_published += s.read
                break
            except Exception as e:
                progress.ingest_retries += 1
                print(f"ingest of {path.name} failed ({e!r}); running it again")
                await asyncio.sleep(retry_s)


async def publish_events(
    b: Backends, w: Workload, progress: Progress, *, batches: Sequence[list[int]] | None = None, pace_s: float = 0
) -> None:
    for batch in w.batches if batches is None else batches:
        msgs = w.messages(batch)
        while True:
            try:
                await b.bus.publish(msgs)
                break
            except Exception as e:
                progress.publish_retries += 1
                print(f"engagement publish failed ({e!r}); retrying")
                await asyncio.sleep(1)
        progress.events_acked.update(w.events[i].id for i in batch)
        if pace_s:
            await asyncio.sleep(pace_s)


async def verify(
    result: FaultResult,
    *,
    bootstrap: str,
    es_url: str,
    redis_url: str,
    ns: str,
    workloads: Sequence[Workload],
    progress: Progress,
    settings: TrendingSettings | None = None,
) -> None:
    """Fill `result` from the live state and assert it equals the oracle."""
    settings = settings or TrendingSettings()
    expected: dict[str, int] = {}
    for w in workloads:
        expected |= w.versions
    live = await check.index_state(es_url, ns)
    result.papers_acked = len(expected)
    result.papers_present = len(live.keys() & expected.keys())
    result.papers_missing = len(expected.keys() - live.keys())
    result.papers_extra = len(live.keys() - expected.keys())
    result.wrong_versions = sum(1 for p, v in expected.items() if p in live and live[p] != v)

    sent = {e.id for w in workloads for e in [*w.events, *w.via_gateway]}
    redis = Redis.from_url(redis_url)
    try:
        present = await check.present_event_ids(redis, ns)
        store = check.trend_store(redis, ns, settings)
        now = max(w.now for w in workloads)
        live_scores = await check.scores(store, now)
    finally:
        await redis.aclose()
    result.events_acked = len(progress.events_acked)
    result.events_present = len(progress.events_acked & present)
    result.events_missing = len(progress.events_acked - present)
    result.bus_duplicates = await check.bus_duplicates(
        bootstrap, ns, [PAPERS_RAW.name, PAPERS_ENRICHED.name, ENGAGEMENT.name]
    )
    result.dead_lettered = await check.dead_lettered(bootstrap, ns)
    want = await check.scores(await expected_scores(workloads, settings), now)
    result.max_score_rel_diff, problems = check.score_diff(live_scores, want)

    assert result.papers_missing == 0 and result.papers_extra == 0 and result.wrong_versions == 0, result.line()
    assert progress.events_acked == sent, "the workload did not publish every event"
    assert result.events_missing == 0, result.line()
    assert present <= sent, f"{len(present - sent)} counted events were never sent"
    assert result.dead_lettered == 0, result.line()
    assert not problems, "\n".join(problems)


class Clock:
    """Wall-clock marks of a test (epoch seconds: Prometheus queries use them)."""

    def __init__(self) -> None:
        self.start = time.time()
        self.marks: dict[str, float] = {}

    def mark(self, name: str) -> float:
        self.marks[name] = time.time()
        return self.marks[name]

    def since(self, name: str) -> float:
        return time.time() - self.marks[name]


async def wait_until(pred: Callable[[], Awaitable[bool]], timeout: float, what: str, every: float = 0.5) -> float:
    """Seconds until `pred()` holds; TimeoutError naming `what` otherwise."""
    t0 = time.monotonic()
    while not await pred():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"{what}: not within {timeout:.0f}s")
        await asyncio.sleep(every)
    return time.monotonic() - t0
