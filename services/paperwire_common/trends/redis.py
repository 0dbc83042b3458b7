"""Redis TrendStore: one Lua script (apply.lua, EVALSHA) applies a whole batch atomically.

Every key carries the hash tag of `prefix` (default `{pw}`), so all keys live in one slot and every script call
is Redis Cluster-safe; the scripts receive every key they touch in KEYS. An apply is usually one round trip: the
topic rankings it declares come from what this process last saw of each paper, and the script answers "retry"
(writing nothing) when a paper's stored topics were not declared; the client then reads them (HMGET) and calls
again. The script bulk-reads and bulk-writes, a few dozen commands per batch.
Key layout (P = prefix, w = window, tp = <topic>:<partition>):

  P:meta                 hash   t0:<w> reference time, h:<w> half-life, wm:<tp> event-time watermark, layout
  P:offsets:<consumer>   hash   <tp> -> next offset (written by the same script as the scores)
  P:z:<w>                zset   paper -> S (the ranking; announced papers only)
  P:z:<w>:t:<topic>      zset   paper -> S (the same S, for the papers of one topic)
  P:rec                  hash   paper -> packed record: per window S and S per event type, counts, star mark
  P:papers               hash   paper -> "<version>\\x1e<topic>\\x1f<topic>..." (announced papers)
  P:assigned             hash   paper -> "<version>\\x1e<topic>\\x1f<topic>..." (its latest topic assignment)
  P:topics               set    every topic id ever seen (a rebase rescales each topic ranking)
  P:votes                hash   <paper>\\x1f<actor> -> "<ts> <weight>" of the standing upvote
  P:seen:<tp>            zset   i\\x1f<event id> -> ts, o\\x1f<view key> -> bucket end (whole seconds, rounded
                                up), pruned below the partition's watermark − horizon
  P:tmp, P:tmph          scratch keys of the rebase script
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from redis.exceptions import ResponseError

from .port import (
    ETYPES,
    MAX_EXPONENT,
    MAX_STARS,
    MAX_TS,
    MAX_VERSION,
    MAX_WEIGHT,
    ApplyResult,
    HalfLifeChanged,
    Kind,
    ScoreUpdate,
    TypeBreakdown,
    decay_factor,
    screen,
    split_tp,
)

_HERE = Path(__file__).parent
APPLY_LUA = (_HERE / "apply.lua").read_text()
REBASE_LUA = (_HERE / "rebase.lua").read_text()
NE = len(ETYPES)
_BOUNDS = [repr(MAX_TS), repr(MAX_WEIGHT), str(MAX_STARS), str(MAX_VERSION)]  # ARGV[6..9] of apply.lua
_HINT_MAX = 500_000


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _glob_escape(s: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in s)


class RedisTrendStore:
    def __init__(
        self,
        redis: Any,
        half_lives: Mapping[str, float],
        *,
        prefix: str = "paperwire:trend:{pw}",
        horizon_s: float = 172_800.0,
        max_exponent: float = MAX_EXPONENT,
        max_attempts: int = 16,
    ) -> None:
        self.r = redis
        self.half_lives = dict(half_lives)
        self.prefix = prefix
        self.horizon = horizon_s
        self.max_exponent = max_exponent
        self.max_attempts = max_attempts
        self._apply_script = redis.register_script(APPLY_LUA)
        self._rebase_script = redis.register_script(REBASE_LUA)
        p = prefix
        self.k_meta, self.k_papers, self.k_votes = f"{p}:meta", f"{p}:papers", f"{p}:votes"
        self.k_rec, self.k_topics, self.k_tmp, self.k_tmph = f"{p}:rec", f"{p}:topics", f"{p}:tmp", f"{p}:tmph"
        self.k_assigned = f"{p}:assigned"
        nw = len(self.half_lives)
        self._rec = struct.Struct("<" + "d" * (nw * (1 + NE) + NE + 1))  # layout: apply.lua's header
        self._topic_hint: dict[str, tuple[str, ...]] = {}  # paper -> its topics as last seen here (see apply)

    # -- key names (apply.lua builds the same names from the prefix) ---------------------------------------
    def k_offsets(self, consumer: str) -> str:
        return f"{self.prefix}:offsets:{consumer}"

    def k_rank(self, w: str, topic: str | None = None) -> str:
        return f"{self.prefix}:z:{w}" if topic is None else f"{self.prefix}:z:{w}:t:{topic}"

    def k_seen(self, tp: str) -> str:
        return f"{self.prefix}:seen:{tp}"

    # -- writes -------------------------------------------------------------------------------------------
    async def apply(
        self,
        consumer: str,
        partition_offsets: Mapping[tuple[str, int], int],
        updates: Sequence[ScoreUpdate],
    ) -> ApplyResult:
        updates, kept, invalid = screen(updates)  # the script checks the same bounds again, as a guard
        payload, seen_tps, topics = self._payload(partition_offsets, updates)
        fixed = [self.k_meta, self.k_papers, self.k_votes, self.k_rec, self.k_topics, self.k_assigned]
        fixed.append(self.k_offsets(consumer))
        fixed += [self.k_rank(w) for w in self.half_lives]
        fixed += [self.k_seen(tp) for tp in seen_tps]
        papers = list(dict.fromkeys(u.paper_id for u in updates))
        maxts = max((u.ts for u in updates), default=-math.inf)
        args = [self.prefix, consumer, repr(self.max_exponent), repr(self.horizon), payload, *_BOUNDS]
        # KEYS must name the topic rankings of every paper in the call. The first attempt guesses them from what
        # this process last saw of each paper (no round trip); the script checks and answers "retry" with what
        # is missing, and only then are the papers' stored topics read.
        hint = self._topic_hint
        stored: set[str] = set()
        for p in papers:
            stored.update(hint.get(p, ()))
        for _ in range(self.max_attempts):
            keys = fixed + [self.k_rank(w, t) for t in sorted(topics | stored) for w in self.half_lives]
            try:
                res = await self._apply_script(keys=keys, args=args)
            except ResponseError as e:
                if str(e).startswith("HALFLIFE"):
                    raise HalfLifeChanged(str(e).removeprefix("HALFLIFE ")) from None
                raise
            tag = _s(res[0])
            if tag == "ok":
                self._remember_topics(updates)
                return ApplyResult(int(res[1]), tuple(kept[int(i)] for i in res[2]), tuple(invalid))
            if tag == "rebase":
                await self.rebase(_s(res[1]), maxts)
            else:  # "retry": a paper's stored topics were not in KEYS; read them.
                stored = await self._paper_topics(papers)
        raise RuntimeError(f"trend store apply did not settle after {self.max_attempts} attempts")

    def _remember_topics(self, updates: Sequence[ScoreUpdate]) -> None:
        hint = self._topic_hint
        if len(hint) > _HINT_MAX:  # a hint, not state: forgetting only costs one retry per paper
            hint.clear()
        for u in updates:
            if u.kind is Kind.PAPER or u.kind is Kind.TOPICS:
                hint[u.paper_id] = u.topics

    def _payload(
        self, partition_offsets: Mapping[tuple[str, int], int], updates: Sequence[ScoreUpdate]
    ) -> tuple[bytes, list[str], set[str]]:
        """The JSON argument of apply.lua (layout in its header), the engagement partitions, the batch's topics.

        Rows carry only their kind's fields and partitions travel as indexes: this encoding is a large share of
        the client's per-event cost."""
        tps: dict[tuple[str, int], int] = {}
        seen: set[int] = set()
        topics: set[str] = set()
        rows: list[list[Any]] = []
        add = rows.append
        paper, assign, once, vote, unvote, star = Kind.PAPER, Kind.TOPICS, Kind.ONCE, Kind.VOTE, Kind.UNVOTE, Kind.STAR
        last_tp, ti = None, 0
        # unpacking the NamedTuple in the for statement beats 14 attribute lookups per row
        for k, etype, pid, ts, w, topic, part, off, eid, key, until, stars, ptopics, version in updates:
            if (topic, part) != last_tp:
                last_tp = (topic, part)
                ti = tps.setdefault(last_tp, len(tps) + 1)
            if k is paper or k is assign:
                add([k, etype, pid, ts, w, ti, off, eid, list(ptopics), version])
                topics.update(ptopics)
                continue
            seen.add(ti)
            if k is once:
                add([k, etype, pid, ts, w, ti, off, eid, key, until])
            elif k is vote or k is unvote:
                add([k, etype, pid, ts, w, ti, off, eid, key])
            elif k is star:
                add([k, etype, pid, ts, w, ti, off, eid, stars])
            else:
                add([k, etype, pid, ts, w, ti, off, eid])
        offs = [[tps.setdefault(tp, len(tps) + 1), o] for tp, o in partition_offsets.items()]
        names = [f"{t}:{p}" for t, p in tps]  # dicts keep insertion order: names[i - 1] is index i
        payload = {
            "w": [[w, h] for w, h in self.half_lives.items()],
            "e": list(ETYPES),
            "tp": names,
            "o": offs,
            "u": rows,
        }
        # orjson: the stdlib encoder was a tenth of the scorer's time. Both write a float as its shortest
        # round-trip repr, so the script reads the same doubles. orjson writes NaN and inf as null rather than
        # refusing them (and refuses integers beyond 64 bits): apply() has screened such updates out already.
        return orjson.dumps(payload), [names[i - 1] for i in sorted(seen)], topics

    async def _paper_topics(self, papers: list[str]) -> set[str]:
        """The stored topics and the assigned topics of these papers (the rankings an apply may touch)."""
        out: set[str] = set()
        if not papers:
            return out
        for key in (self.k_papers, self.k_assigned):
            for p, raw in zip(papers, await self.r.hmget(key, papers), strict=True):
                if raw:
                    joined = _s(raw).split("\x1e", 1)[1]
                    ts = tuple(t for t in joined.split("\x1f") if t)
                    self._topic_hint[p] = ts
                    out.update(ts)
        return out

    async def rebase(self, window: str, new_t0: float) -> None:
        wi = list(self.half_lives).index(window) + 1
        for _ in range(self.max_attempts):
            topics = sorted(_s(t) for t in await self.r.smembers(self.k_topics))
            zsets = [self.k_rank(window), *(self.k_rank(window, t) for t in topics)]
            res = await self._rebase_script(
                keys=[self.k_meta, self.k_topics, self.k_tmp, self.k_tmph, self.k_rec, *zsets],
                args=[window, repr(new_t0), repr(self.half_lives[window]), len(topics), wi, NE, self._rec.size // 8],
            )
            if _s(res) != "retry":
                return
        raise RuntimeError(f"trend store rebase of {window} did not settle after {self.max_attempts} attempts")

    async def reset(self) -> None:
        batch: list[Any] = []
        async for k in self.r.scan_iter(match=_glob_escape(self.prefix) + ":*", count=1000):
            batch.append(k)
            if len(batch) >= 1000:
                await self.r.unlink(*batch)
                batch = []
        if batch:
            await self.r.unlink(*batch)

    async def close(self) -> None:
        return None  # the client belongs to the caller (Backends closes it)

    # -- reads (T0 and the scores in one MULTI, so a concurrent rebase can't mix frames) --------------------
    def _check(self, window: str) -> float:
        if window not in self.half_lives:
            raise ValueError(f"unknown window {window!r}")
        return self.half_lives[window]

    async def top(self, window: str, topic: str | None, size: int, now: float) -> list[tuple[str, float]]:
        h = self._check(window)
        if size <= 0:
            return []
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.hget(self.k_meta, f"t0:{window}")
            pipe.zrevrange(self.k_rank(window, topic), 0, size - 1, withscores=True)
            t0, rows = await pipe.execute()
        if t0 is None:
            return []
        f = decay_factor(now, float(t0), h)
        return [(_s(m), float(s) * f) for m, s in rows]

    async def scores(self, paper_id: str, now: float) -> dict[str, float]:
        windows = list(self.half_lives)
        async with self.r.pipeline(transaction=True) as pipe:
            for w in windows:
                pipe.hget(self.k_meta, f"t0:{w}")
                pipe.zscore(self.k_rank(w), paper_id)
            res = await pipe.execute()
        out: dict[str, float] = {}
        for i, w in enumerate(windows):
            t0, s = res[2 * i], res[2 * i + 1]
            if t0 is not None and s is not None:
                out[w] = float(s) * decay_factor(now, float(t0), self.half_lives[w])
        return out

    async def breakdown(self, paper_id: str, now: float) -> dict[str, dict[str, TypeBreakdown]]:
        windows = list(self.half_lives)
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.hget(self.k_rec, paper_id)
            for w in windows:
                pipe.hget(self.k_meta, f"t0:{w}")
            raw, *t0s = await pipe.execute()
        if raw is None:
            return {}
        rec = self._rec.unpack(raw)
        counts = rec[len(windows) * (1 + NE) : len(windows) * (1 + NE) + NE]
        out: dict[str, dict[str, TypeBreakdown]] = {}
        for wi, (w, t0) in enumerate(zip(windows, t0s, strict=True)):
            if t0 is None:
                continue
            f = decay_factor(now, float(t0), self.half_lives[w])
            base = wi * (1 + NE) + 1
            per = {}
            for ei, e in enumerate(ETYPES):
                s, n = rec[base + ei], int(counts[ei])
                if not math.isnan(s) or n:  # NaN: no contribution of that type yet
                    per[e] = TypeBreakdown(n, (0.0 if math.isnan(s) else s) * f)
            if per:
                out[w] = per
        return out

    async def offsets(self, consumer: str) -> dict[tuple[str, int], int]:
        raw = await self.r.hgetall(self.k_offsets(consumer))
        return {split_tp(_s(k)): int(v) for k, v in raw.items()}
