"""What the fault tests measure on the live system and compare with the oracle (workload.py)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from paperwire_common.search.elastic import ElasticIndex
from paperwire_common.streams import ALL_STREAMS, ENGAGEMENT, PAPERS_ENRICHED, PAPERS_RAW
from paperwire_common.trends.port import TrendStore
from paperwire_common.trends.redis import RedisTrendStore
from paperwire_trending.settings import TrendingSettings

# Consumer group -> the streams it reads (the services' default groups).
GROUPS = {
    "paperwire-enricher": (PAPERS_RAW.name,),
    "paperwire-indexer": (PAPERS_ENRICHED.name,),
    "paperwire-trending": (ENGAGEMENT.name, PAPERS_ENRICHED.name),
}


@dataclass
class FaultResult:
    """One summary line of the fault suite (printed at the end of the run, see conftest.py)."""

    test: str
    workload: str
    fault: str
    papers_acked: int = 0
    papers_present: int = 0
    papers_missing: int = 0
    papers_extra: int = 0
    wrong_versions: int = 0
    events_acked: int = 0
    events_present: int = 0
    events_missing: int = 0
    bus_duplicates: dict[str, int] = field(default_factory=dict)  # stream -> records repeating an event id
    dead_lettered: int = 0
    max_score_rel_diff: float = 0.0
    recovery_s: float | None = None
    alerts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        dup = ", ".join(f"{k} {v}" for k, v in self.bus_duplicates.items()) or "-"
        rec = f"{self.recovery_s:.1f}s" if self.recovery_s is not None else "-"
        return (
            f"{self.test}: {self.workload}; fault: {self.fault} | papers acked {self.papers_acked} present "
            f"{self.papers_present} missing {self.papers_missing} extra {self.papers_extra} wrong-version "
            f"{self.wrong_versions} | events acked {self.events_acked} present {self.events_present} missing "
            f"{self.events_missing} | duplicates on the bus (absorbed): {dup} | sink duplicates 0 | "
            f"dead-lettered {self.dead_lettered} | max score rel diff {self.max_score_rel_diff:.1e} | "
            f"recovery {rec} | alerts fired: {', '.join(self.alerts) or 'none'}"
            + (f" | {'; '.join(self.notes)}" if self.notes else "")
        )


# ------------------------------------------------------------------------------------------------ Kafka
async def end_offsets(bootstrap: str, topics: Sequence[str]) -> dict[tuple[str, int], int]:
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await c.start()
    try:
        tps = []
        for t in topics:
            parts = c.partitions_for_topic(t)
            if not parts:
                await c._client.force_metadata_update()
                parts = c.partitions_for_topic(t) or set()
            tps += [TopicPartition(t, p) for p in parts]
        ends = await c.end_offsets(tps) if tps else {}
        return {(tp.topic, tp.partition): off for tp, off in ends.items()}
    finally:
        await c.stop()


async def group_offsets(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        got = await admin.list_consumer_group_offsets(group)
        return {(tp.topic, tp.partition): meta.offset for tp, meta in got.items()}
    finally:
        await admin.close()


async def drained(bootstrap: str, ns: str, groups: dict[str, Sequence[str]] | None = None) -> bool:
    """Every group has committed up to the end of its streams, checked in pipeline order (each service
    publishes before it commits, so one pass that finds all of them done is final)."""
    for group, streams in (groups or GROUPS).items():
        ends = await end_offsets(bootstrap, [ns + s for s in streams])
        committed = await group_offsets(bootstrap, ns + group)
        if any(committed.get(tp, 0) < end for tp, end in ends.items()):
            return False
    return True


async def read_stream(bootstrap: str, topic: str) -> list[Any]:
    """Every record of a topic, from the beginning to the end offsets taken now."""
    ends = await end_offsets(bootstrap, [topic])
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, max_partition_fetch_bytes=8 << 20)
    await c.start()
    out: list[Any] = []
    try:
        tps = [TopicPartition(t, p) for (t, p), end in ends.items() if end > 0]
        if not tps:
            return out
        c.assign(tps)
        await c.seek_to_beginning(*tps)
        left = {tp: ends[(tp.topic, tp.partition)] for tp in tps}
        while left:
            for tp, recs in (await c.getmany(timeout_ms=1000, max_records=10_000)).items():
                out += [r for r in recs if r.offset < left.get(tp, 0)]
                if recs and recs[-1].offset + 1 >= left.get(tp, 0):
                    left.pop(tp, None)
        return out
    finally:
        await c.stop()


async def bus_duplicates(bootstrap: str, ns: str, streams: Sequence[str]) -> dict[str, int]:
    """Per stream: records whose event id (ce_id) an earlier record already carried (redeliveries, retries)."""
    out = {}
    for s in streams:
        ids = Counter(dict(r.headers).get("ce_id", b"") for r in await read_stream(bootstrap, ns + s))
        out[s] = sum(n - 1 for n in ids.values())
    return out


async def dead_lettered(bootstrap: str, ns: str) -> int:
    ends = await end_offsets(bootstrap, [ns + s.dlq for s in ALL_STREAMS])
    return sum(ends.values())


# ------------------------------------------------------------------------------------------------ sinks
def trend_store(redis: Any, ns: str, settings: TrendingSettings) -> RedisTrendStore:
    return RedisTrendStore(
        redis, settings.half_lives(), prefix=ns + "paperwire:trend:{pw}", horizon_s=settings.dedupe_horizon_s
    )


async def scores(store: TrendStore, now: float) -> dict[str, dict[str, float]]:
    return {w: dict(await store.top(w, None, 10_000_000, now)) for w in store.half_lives}


def score_diff(got: dict[str, dict[str, float]], want: dict[str, dict[str, float]]) -> tuple[float, list[str]]:
    """Largest relative difference over every (window, paper), and what differs beyond 1e-9."""
    worst, problems = 0.0, []
    for w, expected in want.items():
        live = got.get(w, {})
        if set(live) != set(expected):
            problems.append(
                f"{w}: {len(set(expected) - set(live))} papers missing, {len(set(live) - set(expected))} unexpected"
            )
        for p, x in expected.items():
            y = live.get(p)
            if y is None:
                continue
            d = abs(x - y) / max(abs(x), abs(y), 1e-300)
            worst = max(worst, d)
            if d > 1e-9 and len(problems) < 10:
                problems.append(f"{w} {p}: live {y!r} != replay {x!r}")
    return worst, problems


async def present_event_ids(redis: Any, ns: str) -> set[str]:
    """Engagement event ids the live trend store has counted (its per-partition dedupe sets)."""
    prefix = ns + "paperwire:trend:{pw}:seen:"
    out: set[str] = set()
    async for key in redis.scan_iter(match=prefix.replace("{", "\\{").replace("}", "\\}") + "*", count=1000):
        async for member, _ in redis.zscan_iter(key, match="i\x1f*", count=5000):
            out.add((member.decode() if isinstance(member, bytes) else member)[2:])
    return out


async def index_state(es_url: str, ns: str) -> dict[str, int]:
    ix = ElasticIndex(es_url, ns + "papers")
    try:
        await ix.refresh()
        return await ix.snapshot()
    finally:
        await ix.stop()


async def index_count(es_url: str, ns: str) -> int:
    ix = ElasticIndex(es_url, ns + "papers", max_retries=0, request_timeout=10)
    try:
        return await ix.count()
    except Exception:
        return -1
    finally:
        await ix.stop()


async def wait_converged(bootstrap: str, es_url: str, ns: str, n_papers: int, timeout: float) -> float:
    """Seconds until every group is drained and the index holds n_papers (refreshed)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if await index_count(es_url, ns) >= n_papers and await drained(bootstrap, ns):
                ix = ElasticIndex(es_url, ns + "papers")
                try:
                    await ix.refresh()
                    if await ix.count() >= n_papers and await drained(bootstrap, ns):
                        return time.monotonic() - t0
                finally:
                    await ix.stop()
        except Exception as e:  # a server still recovering: ask again
            print(f"converge probe: {e!r}")
        await asyncio.sleep(1)
    raise TimeoutError(f"pipeline did not converge within {timeout:.0f}s (index {await index_count(es_url, ns)})")
