"""In-memory TrendStore: the reference statement of the semantics, event by event. The Redis script
(trends/apply.lua) does the same float operations on each value in the same order (it only batches the reads
and writes around them), so both give bit-identical scores on one platform's libm.

`apply` never awaits, so it is atomic with respect to other coroutines; everything that can fail is checked
before the first write, so a failed call leaves no trace.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .port import (
    ETYPES,
    MAX_EXPONENT,
    SEP,
    ApplyResult,
    HalfLifeChanged,
    Kind,
    ScoreUpdate,
    TypeBreakdown,
    decay_factor,
    split_tp,
)

# Score maps by logical name: ("g", w) ranking, ("p", w) pending (paper not yet announced),
# ("e", w, etype) breakdown, ("t", w, topic) topic ranking (the ranking's S of the topic's papers).
# (Redis keeps the last three per paper in one packed record; the values and operations are the same.)
ZKey = tuple[str, ...]


@dataclass
class _State:
    t0: dict[str, float] = field(default_factory=dict)
    half_life: dict[str, float] = field(default_factory=dict)
    watermark: dict[str, float] = field(default_factory=dict)  # tp -> highest engagement ts seen
    offsets: dict[str, dict[str, int]] = field(default_factory=dict)  # consumer -> tp -> next offset
    papers: dict[str, tuple[int, tuple[str, ...]]] = field(default_factory=dict)  # -> (version, topics)
    assigned: dict[str, tuple[int, tuple[str, ...]]] = field(default_factory=dict)  # -> latest assignment
    votes: dict[str, tuple[float, float]] = field(default_factory=dict)  # paper SEP actor -> (ts, weight)
    stars: dict[str, int] = field(default_factory=dict)  # paper -> highest snapshot
    counts: dict[str, int] = field(default_factory=dict)  # etype SEP paper -> count
    topics: set[str] = field(default_factory=set)
    z: dict[ZKey, dict[str, float]] = field(default_factory=dict)
    seen: dict[str, dict[str, int]] = field(default_factory=dict)  # tp -> dedupe member -> retain score


class EmbeddedTrendStore:
    def __init__(
        self,
        half_lives: Mapping[str, float],
        *,
        horizon_s: float = 172_800.0,
        max_exponent: float = MAX_EXPONENT,
    ) -> None:
        self.half_lives = dict(half_lives)
        self.horizon = horizon_s
        self.max_exponent = max_exponent
        self._s = _State()

    def _z(self, *key: str) -> dict[str, float]:
        return self._s.z.setdefault(key, {})

    # -- writes -------------------------------------------------------------------------------------------
    async def apply(
        self,
        consumer: str,
        partition_offsets: Mapping[tuple[str, int], int],
        updates: Sequence[ScoreUpdate],
    ) -> ApplyResult:
        st = self._s
        for u in updates:
            if not (math.isfinite(u.ts) and math.isfinite(u.weight) and math.isfinite(u.until)):
                raise ValueError(f"non-finite ts/weight in update {u.event_id}")
        maxts = max((u.ts for u in updates), default=-math.inf)
        for w, h in self.half_lives.items():
            stored_h = st.half_life.get(w)
            if stored_h is not None and stored_h != h:
                raise HalfLifeChanged(f"half-life of window {w} changed ({stored_h!r} -> {h!r}); rebuild")
        t0: dict[str, float] = {}
        for w, h in self.half_lives.items():
            t = st.t0.get(w)
            if t is not None:
                if updates and (maxts - t) / h > self.max_exponent:
                    self.rebase(w, maxts)
                    t = maxts
            elif updates:
                t = maxts
            if t is not None:
                t0[w] = t
        ctx = _Apply(self, consumer, t0, maxts)
        for i, u in enumerate(updates):
            ctx.one(i, u)
        ctx.finish(partition_offsets)
        return ApplyResult(ctx.applied, tuple(ctx.late))

    def rebase(self, window: str, new_t0: float) -> None:
        """Move T0 of `window` forward and rescale each sorted set of the window (same ops as rebase.lua)."""
        st = self._s
        t0 = st.t0.get(window)
        if t0 is None or new_t0 <= t0:
            return
        f = 2.0 ** (-(new_t0 - t0) / self.half_lives[window])
        for key, z in st.z.items():
            if key[1] == window:
                st.z[key] = {m: s * f for m, s in z.items()}
        st.t0[window] = new_t0

    async def reset(self) -> None:
        self._s = _State()

    # -- reads --------------------------------------------------------------------------------------------
    def _factor(self, window: str, now: float) -> float | None:
        if window not in self.half_lives:
            raise ValueError(f"unknown window {window!r}")
        t0 = self._s.t0.get(window)
        return None if t0 is None else decay_factor(now, t0, self.half_lives[window])

    async def top(self, window: str, topic: str | None, size: int, now: float) -> list[tuple[str, float]]:
        f = self._factor(window, now)
        if f is None or size <= 0:
            return []
        z = self._s.z.get(("g", window) if topic is None else ("t", window, topic), {})
        # (score, member) descending == ZREVRANGE's order (equal scores: member descending).
        best = heapq.nlargest(size, ((s, p) for p, s in z.items()))
        return [(p, s * f) for s, p in best]

    async def scores(self, paper_id: str, now: float) -> dict[str, float]:
        out: dict[str, float] = {}
        for w in self.half_lives:
            f = self._factor(w, now)
            s = self._s.z.get(("g", w), {}).get(paper_id)
            if f is not None and s is not None:
                out[w] = s * f
        return out

    async def breakdown(self, paper_id: str, now: float) -> dict[str, dict[str, TypeBreakdown]]:
        out: dict[str, dict[str, TypeBreakdown]] = {}
        for w in self.half_lives:
            f = self._factor(w, now)
            if f is None:
                continue
            per: dict[str, TypeBreakdown] = {}
            for e in ETYPES:
                s = self._s.z.get(("e", w, e), {}).get(paper_id)
                n = self._s.counts.get(e + SEP + paper_id, 0)
                if s is not None or n:
                    per[e] = TypeBreakdown(n, (s or 0.0) * f)
            if per:
                out[w] = per
        return out

    async def offsets(self, consumer: str) -> dict[tuple[str, int], int]:
        return {split_tp(tp): o for tp, o in self._s.offsets.get(consumer, {}).items()}


class _Apply:
    """One apply call, event by event; apply.lua's walk does the same (keep the two in step)."""

    def __init__(self, store: EmbeddedTrendStore, consumer: str, t0: dict[str, float], maxts: float) -> None:
        self.store, self.st, self.t0 = store, store._s, t0
        self.idkeep = math.ceil(maxts) if math.isfinite(maxts) else 0
        self.offs = self.st.offsets.setdefault(consumer, {})
        self.next: dict[str, int] = {}
        self.touched: set[str] = set()
        self.applied = 0
        self.late: list[int] = []

    def contribute(self, p: str, etype: str, ts: float, weight: float, count: int) -> None:
        st, z = self.st, self.store._z
        known = self.st.papers.get(p)
        for w, h in self.store.half_lives.items():
            c = weight * 2.0 ** ((ts - self.t0[w]) / h)
            if known is not None:
                g = z("g", w)
                s = g[p] + c if p in g else c
                g[p] = s
                for t in known[1]:
                    z("t", w, t)[p] = s
            else:
                pend = z("p", w)
                pend[p] = pend[p] + c if p in pend else c
            e = z("e", w, etype)
            e[p] = e[p] + c if p in e else c
        k = etype + SEP + p
        st.counts[k] = st.counts.get(k, 0) + count

    def one(self, i: int, u: ScoreUpdate) -> None:
        tp = u.tp
        nxt = self.next.get(tp)
        if nxt is None:
            nxt = self.offs.get(tp, 0)
        if u.offset < nxt:
            return
        self.next[tp] = u.offset + 1
        if u.kind is Kind.PAPER:
            self.paper(u)
            return
        if u.kind is Kind.TOPICS:
            self.assign(u)
            return
        wm = self.st.watermark.get(tp, -math.inf)
        if u.ts < wm - self.store.horizon:
            self.late.append(i)
            return
        if u.ts > wm:
            self.st.watermark[tp] = u.ts
        self.touched.add(tp)
        seen = self.st.seen.setdefault(tp, {})
        idm = "i" + SEP + u.event_id
        if idm in seen:
            return
        # as apply.lua: whole seconds; an id is kept until the call's newest event time (never before its own)
        seen[idm] = self.idkeep
        if self.engagement(u, seen):
            self.applied += 1

    def engagement(self, u: ScoreUpdate, seen: dict[str, int]) -> bool:
        st, p = self.st, u.paper_id
        if u.kind is Kind.ADD:
            self.contribute(p, u.etype, u.ts, u.weight, 1)
        elif u.kind is Kind.ONCE:
            km = "o" + SEP + u.key
            if km in seen:
                return False
            seen[km] = math.ceil(u.until)
            self.contribute(p, u.etype, u.ts, u.weight, 1)
        elif u.kind is Kind.VOTE:
            f = p + SEP + u.key
            if f in st.votes:
                return False
            st.votes[f] = (u.ts, u.weight)
            self.contribute(p, "upvote", u.ts, u.weight, 1)
        elif u.kind is Kind.UNVOTE:
            vote = st.votes.pop(p + SEP + u.key, None)
            if vote is None:
                return False
            self.contribute(p, "upvote", vote[0], -vote[1], -1)
        elif u.kind is Kind.STAR:
            hw = st.stars.get(p)
            if hw is not None and u.stars <= hw:
                return False
            st.stars[p] = u.stars
            if hw is not None:  # the first snapshot is the baseline: velocity needs a previous one
                self.contribute(p, "star", u.ts, u.weight * (u.stars - hw), u.stars - hw)
        return True

    def assign(self, u: ScoreUpdate) -> None:
        """A topic assignment: recorded when newer than the paper's last one, and its topics given to the paper
        at once if it is announced (apply.lua's assign does the same)."""
        st, p = self.st, u.paper_id
        last = st.assigned.get(p)
        if last is not None and last[0] >= u.version:
            return
        st.assigned[p] = (u.version, u.topics)
        stored = st.papers.get(p)
        if stored is not None and stored[1] != u.topics:
            self.retopic(p, stored[1], u.topics)
            st.papers[p] = (stored[0], u.topics)
            st.topics.update(u.topics)
        self.applied += 1

    def retopic(self, p: str, old: tuple[str, ...], new: tuple[str, ...]) -> None:
        """Move an announced paper's S from the rankings of its old topics to those of its new ones."""
        z = self.store._z
        for w in self.store.half_lives:
            s = z("g", w)[p]
            for t in old:
                if t not in new:
                    z("t", w, t).pop(p, None)
            for t in new:
                if t not in old:
                    z("t", w, t)[p] = s

    def paper(self, u: ScoreUpdate) -> None:
        st, z, p = self.st, self.store._z, u.paper_id
        if (a := st.assigned.get(p)) is not None:  # the topic job's assignment wins over the announced topics
            u = u._replace(topics=a[1])
        stored = st.papers.get(p)
        if stored is None:
            for w, h in self.store.half_lives.items():
                s0 = 0.0
                pend = z("p", w)
                if p in pend:
                    s0 = pend.pop(p)
                c = u.weight * 2.0 ** ((u.ts - self.t0[w]) / h)
                s = s0 + c
                z("g", w)[p] = s
                e = z("e", w, "prior")
                e[p] = e[p] + c if p in e else c
                for t in u.topics:
                    z("t", w, t)[p] = s
            k = "prior" + SEP + p
            st.counts[k] = st.counts.get(k, 0) + 1
        elif u.version >= stored[0] and u.topics != stored[1]:
            self.retopic(p, stored[1], u.topics)
        else:
            if u.version > stored[0]:
                st.papers[p] = (u.version, stored[1])
            return
        st.papers[p] = (u.version, u.topics)
        st.topics.update(u.topics)
        self.applied += 1

    def finish(self, partition_offsets: Mapping[tuple[str, int], int]) -> None:
        st = self.st
        nxt = dict(self.next)
        for (topic, part), off in partition_offsets.items():
            tp = f"{topic}:{part}"
            nxt[tp] = max(nxt.get(tp, 0), off)
        for tp, off in nxt.items():
            if off > self.offs.get(tp, 0):
                self.offs[tp] = off
        for tp in self.touched:
            floor = st.watermark[tp] - self.store.horizon
            seen = st.seen[tp]
            for m in [m for m, s in seen.items() if s < floor]:
                del seen[m]
        for w, t in self.t0.items():
            st.t0.setdefault(w, t)
            st.half_life.setdefault(w, self.store.half_lives[w])
