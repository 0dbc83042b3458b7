"""Detection: carry topic ids over from the previous state and find what emerged (pure logic, no I/O).

Stable ids — a new cluster inherits the id of the previous topic it overlaps most (Jaccard on members
>= `min_jaccard`, one-to-one, best pairs first); otherwise its id is a short hash of its sorted founding members.

Emerging — `topic.created` when a topic id is not in the previous state; `topic.trending` when a topic that
existed before bursts (bursts.py). A burst is reported once per (topic, W-aligned window), and not again in the
window right after one it was reported in. Event ids are hashes of (kind, topic id, window): at most one of
each, whatever is re-run or re-published.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from paperwire_common import ids
from paperwire_common.events import TopicEvent
from paperwire_common.topics.model import TopicRecord

from .bursts import TrendParams, burst_of, finite_sorted, window_counts, window_edges
from .clustering import Cluster, ClusterParams, Paper, cluster_papers

EventKind = Literal["topic.created", "topic.trending"]
CREATED: Final = "topic.created"
TRENDING: Final = "topic.trending"


def fresh_topic_id(members: Iterable[str]) -> str:
    """A new topic's id: a short hash of its sorted founding members."""
    h = hashlib.sha256("\n".join(sorted(members)).encode()).hexdigest()
    return f"tp-{h[:12]}"


def jaccard(a: Collection[str], b: Collection[str]) -> float:
    sa, sb = set(a), set(b)
    union = len(sa | sb)
    return len(sa & sb) / union if union else 0.0


def assign_ids(
    clusters: Sequence[Cluster], previous: Mapping[str, Collection[str]], min_jaccard: float = 0.3
) -> list[tuple[str, Cluster]]:
    """(topic id, cluster) in the clusters' order: best-overlapping previous topic (Jaccard >= min_jaccard,
    one-to-one, highest overlap first) or a fresh id."""
    prev_sets = {tid: set(m) for tid, m in previous.items()}
    owner: dict[str, list[str]] = {}
    for tid, ms in prev_sets.items():
        for m in ms:
            owner.setdefault(m, []).append(tid)
    pairs: list[tuple[float, str, int]] = []
    for ci, c in enumerate(clusters):
        cands = {t for m in c.members for t in owner.get(m, ())}
        mine = set(c.members)
        for tid in cands:
            j = len(mine & prev_sets[tid]) / len(mine | prev_sets[tid])
            if j >= min_jaccard:
                pairs.append((-j, tid, ci))
    pairs.sort()
    got: dict[int, str] = {}
    taken: set[str] = set()
    for _, tid, ci in pairs:
        if ci in got or tid in taken:
            continue
        got[ci] = tid
        taken.add(tid)
    out = []
    for ci, c in enumerate(clusters):
        tid = got.get(ci) or fresh_topic_id(c.members)
        if tid in taken and ci not in got:  # identical members to a topic that another cluster inherited
            tid = fresh_topic_id([*c.members, f"#{ci}"])
        taken.add(tid)
        out.append((tid, c))
    return out


def event_id(kind: str, topic_id: str, window: int | None = None) -> str:
    """Deterministic event id: hash of (kind, topic id, window); topic.created has no window."""
    return ids.event_id(kind, topic_id, "" if window is None else str(window))


@dataclass(frozen=True)
class Detection:
    topics: list[TopicRecord]  # the new state, biggest first
    events: list[TopicEvent]  # to publish, in order: created first, then trending


def detect(
    papers: Iterable[Paper],
    previous: Mapping[str, TopicRecord],
    emitted: Collection[str],
    now: float,
    cluster: ClusterParams = ClusterParams(),
    trend: TrendParams = TrendParams(),
    *,
    min_jaccard: float = 0.3,
    max_event_papers: int = 50,
) -> Detection:
    """Re-cluster, carry ids over from `previous`, and the events not yet in `emitted` (ids already sent)."""
    by_id: dict[str, Paper] = {}
    for p in papers:
        by_id.setdefault(p.id, p)  # as in cluster_papers: of duplicate ids the first wins
    ps = [by_id[i] for i in sorted(by_id)]
    arrival = {p.id: p.ingested_at for p in ps if p.ingested_at is not None and math.isfinite(p.ingested_at)}
    corpus_counts = window_counts(finite_sorted(arrival.values()), window_edges(now, trend))
    clusters = cluster_papers(ps, cluster)
    named = assign_ids(clusters, {tid: r.members for tid, r in previous.items()}, min_jaccard)
    records: list[TopicRecord] = []
    created: list[TopicEvent] = []
    trending: list[TopicEvent] = []

    def newest_first(ids: Iterable[str]) -> list[str]:
        return sorted(ids, key=lambda i: (-arrival.get(i, -math.inf), i))[:max_event_papers]

    for tid, c in named:
        tr = burst_of(finite_sorted(arrival[m] for m in c.members if m in arrival), corpus_counts, now, trend)
        prev = previous.get(tid)
        rec = TopicRecord(
            id=tid,
            label=c.label,
            keyphrases=list(c.keyphrases),
            members=list(c.members),
            size=len(c.members),
            cohesion=c.cohesion,
            created_at=prev.created_at if prev else now,
            updated_at=now,
            trend=tr,
        )
        records.append(rec)
        if prev is None:
            eid = event_id(CREATED, tid)
            if eid not in emitted:
                created.append(_event(eid, CREATED, rec, newest_first(c.members), c.cohesion, now))
        elif tr.bursting:
            eid = event_id(TRENDING, tid, tr.window)
            if eid not in emitted and event_id(TRENDING, tid, tr.window - 1) not in emitted:
                lo = now - trend.window_s
                recent = [m for m in c.members if lo < arrival.get(m, -math.inf) <= now]
                trending.append(_event(eid, TRENDING, rec, newest_first(recent), tr.z, now))
    return Detection(records, created + trending)


def _event(eid: str, kind: EventKind, rec: TopicRecord, paper_ids: list[str], score: float, now: float) -> TopicEvent:
    return TopicEvent(
        id=eid,
        kind=kind,
        topic_id=rec.id,
        label=rec.label,
        keyphrases=rec.keyphrases,
        paper_ids=paper_ids,
        score=score,
        detected_at=now,
    )
