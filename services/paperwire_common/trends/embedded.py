"""In-memory TrendStore: the reference statement of the semantics, event by event. The Redis script
(trends/apply.lua) does the same float operations on each value in the same order (it only batches the reads
and writes around them), so both give bit-identical scores on one platform's libm. The walk itself is walk.py.

`apply` never awaits, so it is atomic with respect to other coroutines. It is all or nothing: updates outside the
store's bounds are screened out first (port.screen), and every write of the walk is journaled, so a call that
raises anyway (a bug, MemoryError) is rolled back before the exception leaves it.
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
    ScoreUpdate,
    TypeBreakdown,
    decay_factor,
    screen,
    split_tp,
)
from .walk import Apply

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
        updates, kept, invalid = screen(updates)
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
        ctx = Apply(self, consumer, t0, maxts)
        try:
            for i, u in enumerate(updates):
                ctx.one(i, u)
            ctx.finish(partition_offsets)
        except BaseException:
            ctx.rollback()
            raise
        return ApplyResult(ctx.applied, tuple(kept[i] for i in ctx.late), tuple(invalid))

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

    async def close(self) -> None:
        return None

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
