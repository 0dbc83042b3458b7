"""The walk of one EmbeddedTrendStore.apply call, event by event, with its undo journal.

apply.lua walks a batch the same way (the same float operations in the same order): keep the two in step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .port import SEP, Kind, ScoreUpdate

if TYPE_CHECKING:
    from .embedded import EmbeddedTrendStore

_MISSING = object()  # journal: the key was absent before the write
_ADDED = object()  # journal: the member was added to a set


class Apply:
    """One apply call, event by event; apply.lua's walk does the same (keep the two in step).

    Every write goes through `put`/`drop`/`grow`, which journal the value they replace: `rollback` restores them in
    reverse order, so a call that fails half-way leaves the state as it found it."""

    def __init__(self, store: EmbeddedTrendStore, consumer: str, t0: dict[str, float], maxts: float) -> None:
        self.store, self.st, self.t0 = store, store._s, t0
        self.undo: list[tuple[Any, Any, Any]] = []
        self.idkeep = math.ceil(maxts) if math.isfinite(maxts) else 0
        offs = self.st.offsets.get(consumer)
        if offs is None:
            offs = {}
            self.put(self.st.offsets, consumer, offs)
        self.offs: dict[str, int] = offs
        self.next: dict[str, int] = {}
        self.touched: set[str] = set()
        self.applied = 0
        self.late: list[int] = []

    # -- journaled writes
    def put(self, d: dict[Any, Any], k: Any, v: Any) -> None:
        self.undo.append((d, k, d.get(k, _MISSING)))
        d[k] = v

    def drop(self, d: dict[Any, Any], k: Any) -> Any:
        old = d.pop(k, _MISSING)
        if old is not _MISSING:
            self.undo.append((d, k, old))
        return None if old is _MISSING else old

    def grow(self, s: set[str], items: Iterable[str]) -> None:
        for x in items:
            if x not in s:
                s.add(x)
                self.undo.append((s, x, _ADDED))

    def z(self, *key: str) -> dict[str, float]:
        d = self.st.z.get(key)
        if d is not None:
            return d
        d = {}
        self.put(self.st.z, key, d)
        return d

    def rollback(self) -> None:
        for c, k, old in reversed(self.undo):
            if old is _ADDED:
                c.discard(k)
            elif old is _MISSING:
                c.pop(k, None)
            else:
                c[k] = old
        self.undo.clear()

    # -- the walk
    def contribute(self, p: str, etype: str, ts: float, weight: float, count: int) -> None:
        # the hot path: put() inlined (journal the old value, then write)
        st, z, undo = self.st, self.z, self.undo.append
        known = st.papers.get(p)
        for w, h in self.store.half_lives.items():
            c = weight * 2.0 ** ((ts - self.t0[w]) / h)
            if known is not None:
                g = z("g", w)
                old = g.get(p, _MISSING)
                undo((g, p, old))
                s = c if old is _MISSING else old + c
                g[p] = s
                for t in known[1]:
                    self.put(z("t", w, t), p, s)
            else:
                pend = z("p", w)
                old = pend.get(p, _MISSING)
                undo((pend, p, old))
                pend[p] = c if old is _MISSING else old + c
            e = z("e", w, etype)
            old = e.get(p, _MISSING)
            undo((e, p, old))
            e[p] = c if old is _MISSING else old + c
        k = etype + SEP + p
        n = st.counts.get(k)
        undo((st.counts, k, _MISSING if n is None else n))
        st.counts[k] = count if n is None else n + count

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
            self.put(self.st.watermark, tp, u.ts)
        self.touched.add(tp)
        seen = self.st.seen.get(tp)
        if seen is None:
            seen = {}
            self.put(self.st.seen, tp, seen)
        idm = "i" + SEP + u.event_id
        if idm in seen:
            return
        # as apply.lua: whole seconds; an id is kept until the call's newest event time (never before its own)
        self.put(seen, idm, self.idkeep)
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
            self.put(seen, km, math.ceil(u.until))
            self.contribute(p, u.etype, u.ts, u.weight, 1)
        elif u.kind is Kind.VOTE:
            f = p + SEP + u.key
            if f in st.votes:
                return False
            self.put(st.votes, f, (u.ts, u.weight))
            self.contribute(p, "upvote", u.ts, u.weight, 1)
        elif u.kind is Kind.UNVOTE:
            vote = self.drop(st.votes, p + SEP + u.key)
            if vote is None:
                return False
            self.contribute(p, "upvote", vote[0], -vote[1], -1)
        elif u.kind is Kind.STAR:
            hw = st.stars.get(p)
            if hw is not None and u.stars <= hw:
                return False
            self.put(st.stars, p, u.stars)
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
        self.put(st.assigned, p, (u.version, u.topics))
        stored = st.papers.get(p)
        if stored is not None and stored[1] != u.topics:
            self.retopic(p, stored[1], u.topics)
            self.put(st.papers, p, (stored[0], u.topics))
            self.grow(st.topics, u.topics)
        self.applied += 1

    def retopic(self, p: str, old: tuple[str, ...], new: tuple[str, ...]) -> None:
        """Move an announced paper's S from the rankings of its old topics to those of its new ones."""
        z = self.z
        for w in self.store.half_lives:
            s = z("g", w)[p]
            for t in old:
                if t not in new:
                    self.drop(z("t", w, t), p)
            for t in new:
                if t not in old:
                    self.put(z("t", w, t), p, s)

    def paper(self, u: ScoreUpdate) -> None:
        st, z, put, p = self.st, self.z, self.put, u.paper_id
        if (a := st.assigned.get(p)) is not None:  # the topic job's assignment wins over the announced topics
            u = u._replace(topics=a[1])
        stored = st.papers.get(p)
        if stored is None:
            for w, h in self.store.half_lives.items():
                s0 = 0.0
                pend = z("p", w)
                if p in pend:
                    s0 = self.drop(pend, p)
                c = u.weight * 2.0 ** ((u.ts - self.t0[w]) / h)
                s = s0 + c
                put(z("g", w), p, s)
                e = z("e", w, "prior")
                put(e, p, e[p] + c if p in e else c)
                for t in u.topics:
                    put(z("t", w, t), p, s)
            k = "prior" + SEP + p
            put(st.counts, k, st.counts.get(k, 0) + 1)
        elif u.version >= stored[0] and u.topics != stored[1]:
            self.retopic(p, stored[1], u.topics)
        else:
            if u.version > stored[0]:
                put(st.papers, p, (u.version, stored[1]))
            return
        put(st.papers, p, (u.version, u.topics))
        self.grow(st.topics, u.topics)
        self.applied += 1

    def finish(self, partition_offsets: Mapping[tuple[str, int], int]) -> None:
        st = self.st
        nxt = dict(self.next)
        for (topic, part), off in partition_offsets.items():
            tp = f"{topic}:{part}"
            nxt[tp] = max(nxt.get(tp, 0), off)
        for tp, off in nxt.items():
            if off > self.offs.get(tp, 0):
                self.put(self.offs, tp, off)
        for tp in self.touched:
            floor = st.watermark[tp] - self.store.horizon
            seen = st.seen[tp]
            for m in [m for m, s in seen.items() if s < floor]:
                self.drop(seen, m)
        for w, t in self.t0.items():
            if w not in st.t0:
                self.put(st.t0, w, t)
            if w not in st.half_life:
                self.put(st.half_life, w, self.store.half_lives[w])
