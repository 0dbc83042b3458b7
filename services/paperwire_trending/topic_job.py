"""The topic job: re-cluster the index, publish what emerged on topics.v1 and the papers whose topics changed on
papers.topics.v1, keep the state in the TopicStore.

One run: read every paper's embedding, keyphrases, title and ingested_at from the index; cluster and diff
against the stored topics (paperwire_trending.detection.detect); publish the new TopicEvents and the changed
assignments (paperwire_trending.assignments); then save the new state with the emitted event ids. Publish first,
then save: a crash in between re-publishes the same deterministic topic event ids on the next run, which
consumers deduplicate (ce_id), and the same assignments again (a later version of the same topics: harmless);
saving first could lose them.
Two runs at once (two trending replicas) publish the same ids and save the same state: harmless, but wasted
work, so run the job in one replica.

The read side (what the gateway serves) is paperwire_common.topics.service.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from prometheus_client import Counter, Gauge, Histogram

from paperwire_common.backends import Backends
from paperwire_common.clock import Clock
from paperwire_common.envelope import encode
from paperwire_common.events import TopicEvent
from paperwire_common.logging import get_logger
from paperwire_common.search.port import SearchIndex, SearchRequest
from paperwire_common.streams import PAPER_TOPICS, TOPIC_EVENTS
from paperwire_common.topics import TopicStore

from .assignments import changed_assignments
from .bursts import TrendParams
from .clustering import ClusterParams, Paper
from .detection import detect

log = get_logger(__name__)
SOURCE = "paperwire/trending"
_FIELDS = ("id", "title", "keyphrases", "ingested_at")

RUNS = Counter("paperwire_topics_runs_total", "Topic re-clusterings by outcome", ["outcome"])
EVENTS = Counter("paperwire_topics_events_total", "TopicEvents published on topics.v1", ["kind"])
TOPIC_COUNT = Gauge("paperwire_topics_current", "Topics found by the last re-clustering")
DURATION = Histogram(
    "paperwire_topics_recluster_seconds",
    "Duration of one re-clustering (read, cluster, publish, save)",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)


@dataclass(frozen=True)
class TopicJobConfig:
    cluster: ClusterParams = field(default_factory=ClusterParams)
    trend: TrendParams = field(default_factory=TrendParams)
    min_jaccard: float = 0.3  # a new cluster keeps a previous topic's id at this member overlap or more
    max_event_papers: int = 50  # paper ids carried by one TopicEvent (newest first)
    page_size: int = 500  # documents / embeddings read per index call


async def load_papers(index: SearchIndex, page_size: int = 500) -> list[Paper]:
    """Every indexed paper that has an embedding, sorted by id."""
    ids = sorted(await index.snapshot())
    docs: dict[str, dict[str, Any]] = {}
    after: tuple[Any, ...] | None = None
    while True:  # browse (empty query) pages: one call per page_size documents
        res = await index.search(SearchRequest(size=page_size, fields=_FIELDS, search_after=after, highlight=False))
        for h in res.hits:
            docs[h.id] = h.doc
        if len(res.hits) < page_size or res.hits[-1].sort is None:
            break
        after = res.hits[-1].sort
    missing = [i for i in ids if i not in docs]  # written while we paged
    for i in range(0, len(missing), 50):
        chunk = missing[i : i + 50]
        for pid, d in zip(chunk, await asyncio.gather(*(index.get(p) for p in chunk)), strict=True):
            if d is not None:
                docs[pid] = d
    papers: list[Paper] = []
    for i in range(0, len(ids), page_size):
        chunk = [p for p in ids[i : i + page_size] if p in docs]
        vectors = await index.get_embeddings(chunk)
        for pid in chunk:
            vec = vectors.get(pid)
            if not vec:
                continue
            d = docs[pid]
            t = d.get("ingested_at")
            papers.append(
                Paper(
                    id=pid,
                    vector=np.asarray(vec, dtype=np.float32),
                    keyphrases=tuple(str(k) for k in d.get("keyphrases") or ()),
                    title=str(d.get("title") or ""),
                    ingested_at=float(t) if isinstance(t, int | float) and math.isfinite(t) else None,
                )
            )
    return papers


async def recluster(
    backends: Backends, store: TopicStore, clock: Clock, config: TopicJobConfig | None = None
) -> list[TopicEvent]:
    """One re-clustering; returns the events it published (none when nothing emerged)."""
    cfg = config or TopicJobConfig()
    started = time.perf_counter()
    try:
        state = await store.load()
        papers = await load_papers(backends.index, cfg.page_size)
        now = clock.now()
        # CPU-bound (numpy releases the GIL in the matrix work): off the event loop, which may serve the API.
        det = await asyncio.to_thread(
            detect,
            papers,
            state.topics,
            state.emitted,
            now,
            cfg.cluster,
            cfg.trend,
            min_jaccard=cfg.min_jaccard,
            max_event_papers=cfg.max_event_papers,
        )
        assigned = changed_assignments(state.topics if state.announced else None, det.topics, now)
        messages = [
            encode(TOPIC_EVENTS, ev, key=ev.topic_id, event_id=ev.id, source=SOURCE, time=ev.detected_at)
            for ev in det.events
        ]
        messages += [encode(PAPER_TOPICS, a, key=a.paper_id, event_id=a.id, source=SOURCE, time=now) for a in assigned]
        if messages:
            await backends.bus.publish(messages)
        await store.save(det.topics, {ev.id: ev.detected_at for ev in det.events}, now)
    except Exception:
        RUNS.labels("failed").inc()
        raise
    RUNS.labels("ok").inc()
    for ev in det.events:
        EVENTS.labels(ev.kind).inc()
    TOPIC_COUNT.set(len(det.topics))
    DURATION.observe(time.perf_counter() - started)
    log.info(
        "topics.reclustered",
        papers=len(papers),
        topics=len(det.topics),
        assignments=len(assigned),
        created=sum(e.kind == "topic.created" for e in det.events),
        trending=sum(e.kind == "topic.trending" for e in det.events),
        seconds=round(time.perf_counter() - started, 3),
    )
    return det.events


async def run_periodically(
    backends: Backends,
    store: TopicStore,
    clock: Clock,
    interval_s: float,
    stop: asyncio.Event,
    *,
    config: TopicJobConfig | None = None,
    initial_delay_s: float = 0.0,
    wake: asyncio.Event | None = None,
    ran: asyncio.Event | None = None,
) -> None:
    """Re-cluster every interval_s until stop is set; setting `wake` runs the next one at once (`paperwire run all`
    does after its startup ingest), `ran` is set after each run. A failed run is logged and retried at the next
    tick: the job must not take the trending consumer down with it."""

    async def wait(seconds: float) -> bool:
        waiters = [asyncio.ensure_future(e.wait()) for e in (stop, wake) if e is not None]
        try:
            await asyncio.wait(waiters, timeout=max(seconds, 0.0), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        if wake is not None:
            wake.clear()
        return stop.is_set()

    if initial_delay_s > 0 and await wait(initial_delay_s):
        return
    while not stop.is_set():
        try:
            await recluster(backends, store, clock, config)
        except Exception as e:
            log.error("topics.recluster_failed", error=repr(e))
        if ran is not None:
            ran.set()
        if await wait(interval_s):
            return
