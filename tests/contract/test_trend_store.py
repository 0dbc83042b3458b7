"""TrendStore contract: one suite, run against the embedded store and the Redis store.

Each store is checked against (a) a reference EmbeddedTrendStore fed the same calls (top lists identical, scores
equal to 1e-9 relative: the adapters do the same float operations) and (b) `Model`, a naive re-statement of the
semantics that keeps every term and sums Σ w·2^(−(t − ts)/H) directly (no rebasing, no offsets).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import math
import os
import random
import tempfile
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

from paperwire_common.trends import EmbeddedTrendStore, Kind, ScoreUpdate, TrendStore
from paperwire_common.trends.port import ETYPES, HalfLifeChanged
from tests.conftest import need_server

HL = {"24h": 86_400.0, "7d": 604_800.0, "30d": 2_592_000.0}
HORIZON = 2 * 86_400.0
T = 1_767_225_600.0  # 2026-01-01T00:00:00Z
ENG, PAP, TOP = "engagement.v1", "papers.enriched.v1", "papers.topics.v1"
CONSUMER = "paperwire-trending"
# PAPERWIRE_TEST_REDIS_URL points the suite at another server (its db is flushed!).
REDIS_URL = os.environ.get("PAPERWIRE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

StoreFactory = Callable[..., TrendStore]


# ---------------------------------------------------------------------------------------------------- fixtures
async def connect_redis() -> Any:
    """A client on the test db (flushed by the caller); fails instead of skipping under PAPERWIRE_REQUIRE_SERVERS=1."""
    from redis.asyncio import Redis

    u = urlsplit(REDIS_URL)
    need_server("Redis", f"{u.hostname}:{u.port or 6379}")
    return Redis.from_url(REDIS_URL)


@contextlib.asynccontextmanager
async def locked_test_db() -> AsyncIterator[Any]:
    """The test db, flushed before and after, held under a machine-wide file lock: several checkouts running the
    suite against one Redis would otherwise flush each other's data in the middle of a test."""
    with open(os.path.join(tempfile.gettempdir(), "paperwire-redis-test-db.lock"), "w") as lock:
        await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
        client = await connect_redis()
        try:
            await client.flushdb()
            yield client
        finally:
            await client.flushdb()
            await client.aclose()
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
async def open_store(request: pytest.FixtureRequest) -> AsyncIterator[StoreFactory]:
    """open_store(**kw) -> a store; a second call opens another adapter over the same data (a restart)."""
    if request.param == "embedded":
        shared: list[EmbeddedTrendStore] = []

        def open_embedded(**kw: Any) -> TrendStore:
            s = EmbeddedTrendStore(HL, horizon_s=kw.pop("horizon_s", HORIZON), **kw)
            if shared:
                s._s = shared[0]._s  # same data, new adapter
            shared.append(s)
            return s

        yield open_embedded
        return
    from paperwire_common.trends.redis import RedisTrendStore

    async with locked_test_db() as r:

        def open_redis(**kw: Any) -> TrendStore:
            return RedisTrendStore(r, HL, horizon_s=kw.pop("horizon_s", HORIZON), **kw)

        yield open_redis


# ------------------------------------------------------------------------------------------- update builders
@dataclass
class Stream:
    """Builds ScoreUpdates with consecutive offsets per (topic, partition); partition = crc-free hash % 3."""

    next: dict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))
    ids: int = 0

    @staticmethod
    def part(paper: str) -> int:
        return sum(paper.encode()) % 3

    def _u(
        self, topic: str, kind: Kind, etype: str, paper: str, ts: float, w: float, eid: str | None, **kw: Any
    ) -> ScoreUpdate:
        p = self.part(paper)
        off = self.next[(topic, p)]
        self.next[(topic, p)] += 1
        self.ids += 1
        return ScoreUpdate(kind, etype, paper, ts, w, topic, p, off, eid or f"e{self.ids}", **kw)

    def paper(self, paper: str, ts: float, topics: Sequence[str] = (), version: int = 1, w: float = 5.0) -> ScoreUpdate:
        return self._u(PAP, Kind.PAPER, "prior", paper, ts, w, None, topics=tuple(sorted(set(topics))), version=version)

    def assign(self, paper: str, ts: float, topics: Sequence[str], version: int) -> ScoreUpdate:
        return self._u(
            TOP, Kind.TOPICS, "prior", paper, ts, 0.0, None, topics=tuple(sorted(set(topics))), version=version
        )

    def add(self, paper: str, etype: str, ts: float, w: float, eid: str | None = None) -> ScoreUpdate:
        return self._u(ENG, Kind.ADD, etype, paper, ts, w, eid)

    def view(
        self,
        paper: str,
        actor: str,
        ts: float,
        w: float = 1.0,
        bucket_s: float = 86_400.0,
        eid: str | None = None,
    ) -> ScoreUpdate:
        b = math.floor(ts / bucket_s)
        return self._u(
            ENG,
            Kind.ONCE,
            "view",
            paper,
            ts,
            w,
            eid,
            key=f"{paper}\x1f{actor}\x1f{b}",
            until=(b + 1) * bucket_s,
        )

    def vote(self, paper: str, actor: str, ts: float, w: float = 5.0, eid: str | None = None) -> ScoreUpdate:
        return self._u(ENG, Kind.VOTE, "upvote", paper, ts, w, eid, key=actor)

    def unvote(self, paper: str, actor: str, ts: float, eid: str | None = None) -> ScoreUpdate:
        return self._u(ENG, Kind.UNVOTE, "upvote", paper, ts, 0.0, eid, key=actor)

    def star(self, paper: str, stars: int, ts: float, w: float = 2.0, eid: str | None = None) -> ScoreUpdate:
        return self._u(ENG, Kind.STAR, "star", paper, ts, w, eid, stars=stars)


def offsets_of(updates: Sequence[ScoreUpdate]) -> dict[tuple[str, int], int]:
    out: dict[tuple[str, int], int] = {}
    for u in updates:
        out[(u.topic, u.partition)] = max(out.get((u.topic, u.partition), 0), u.offset + 1)
    return out


async def apply(store: TrendStore, updates: Sequence[ScoreUpdate]) -> Any:
    return await store.apply(CONSUMER, offsets_of(updates), updates)


# ------------------------------------------------------------------------------------------- naive model
@dataclass
class Model:
    """The semantics, stated naively: every counted term is kept and summed directly."""

    horizon: float = HORIZON
    terms: dict[str, list[list[Any]]] = field(default_factory=lambda: defaultdict(list))  # [etype, w, ts]
    votes: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    papers: dict[str, tuple[int, tuple[str, ...]]] = field(default_factory=dict)
    assigned: dict[str, tuple[int, tuple[str, ...]]] = field(default_factory=dict)
    stars: dict[str, int] = field(default_factory=dict)
    wm: dict[str, float] = field(default_factory=dict)
    seen: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))

    def apply(self, updates: Sequence[ScoreUpdate]) -> tuple[int, list[int]]:
        applied, late = 0, []
        for i, u in enumerate(updates):
            if u.kind is Kind.TOPICS:
                last = self.assigned.get(u.paper_id)
                if last is None or u.version > last[0]:
                    self.assigned[u.paper_id] = (u.version, u.topics)
                    if u.paper_id in self.papers:
                        self.papers[u.paper_id] = (self.papers[u.paper_id][0], u.topics)
                    applied += 1
                continue
            if u.kind is Kind.PAPER:
                if u.paper_id in self.assigned:  # the latest assignment's topics win
                    u = u._replace(topics=self.assigned[u.paper_id][1])
                old = self.papers.get(u.paper_id)
                if old is None:
                    self.terms[u.paper_id].append(["prior", u.weight, u.ts])
                if old is None or (u.version >= old[0] and u.topics != old[1]):
                    self.papers[u.paper_id] = (u.version, u.topics)
                    applied += 1
                elif u.version > old[0]:
                    self.papers[u.paper_id] = (u.version, old[1])
                continue
            wm = self.wm.get(u.tp, -math.inf)
            if u.ts < wm - self.horizon:
                late.append(i)
                continue
            self.wm[u.tp] = max(wm, u.ts)
            seen = self.seen[u.tp]
            if "i" + u.event_id in seen:
                continue
            seen["i" + u.event_id] = u.ts
            ok = True
            if u.kind is Kind.ADD:
                self.terms[u.paper_id].append([u.etype, u.weight, u.ts])
            elif u.kind is Kind.ONCE:
                ok = "o" + u.key not in seen
                if ok:
                    seen["o" + u.key] = u.until
                    self.terms[u.paper_id].append([u.etype, u.weight, u.ts])
            elif u.kind is Kind.VOTE:
                ok = (u.paper_id, u.key) not in self.votes
                if ok:
                    vote: list[Any] = ["upvote", u.weight, u.ts]
                    self.votes[(u.paper_id, u.key)] = vote
                    self.terms[u.paper_id].append(vote)
            elif u.kind is Kind.UNVOTE:
                ok = (u.paper_id, u.key) in self.votes
                if ok:
                    self.terms[u.paper_id].remove(self.votes.pop((u.paper_id, u.key)))
            elif u.kind is Kind.STAR:
                hw = self.stars.get(u.paper_id)
                ok = hw is None or u.stars > hw
                if ok:
                    self.stars[u.paper_id] = u.stars
                    if hw is not None:
                        self.terms[u.paper_id].append(["star", u.weight * (u.stars - hw), u.ts])
            applied += ok
        for tp, seen in self.seen.items():  # prune below the horizon (at call end, like the stores)
            floor = self.wm[tp] - self.horizon
            for k in [k for k, s in seen.items() if s < floor]:
                del seen[k]
        return applied, late

    def score(self, paper: str, w: str, now: float) -> tuple[float, float]:
        """(score, Σ|term|) at now."""
        ts = [t[1] * 2.0 ** (-(now - t[2]) / HL[w]) for t in self.terms.get(paper, [])]
        return math.fsum(ts), math.fsum(abs(x) for x in ts)

    def top(self, w: str, topic: str | None, now: float) -> list[tuple[str, float]]:
        members = [p for p, (_, ts) in self.papers.items() if topic is None or topic in ts]
        return sorted(((p, self.score(p, w, now)[0]) for p in members), key=lambda x: (-x[1], x[0]))


def assert_matches_model(got: list[tuple[str, float]], m: Model, w: str, now: float) -> None:
    for p, s in got:
        want, scale = m.score(p, w, now)
        assert abs(s - want) <= 1e-9 * max(scale, 1e-300), (p, w, s, want)


async def snapshot(store: TrendStore, now: float, papers: Sequence[str], topics: Sequence[str]) -> dict[str, Any]:
    snap: dict[str, Any] = {"offsets": await store.offsets(CONSUMER)}
    for w in HL:
        snap[f"top:{w}"] = await store.top(w, None, 10_000, now)
        for t in topics:
            snap[f"top:{w}:{t}"] = await store.top(w, t, 10_000, now)
    for p in papers:
        snap[f"scores:{p}"] = await store.scores(p, now)
        snap[f"bd:{p}"] = await store.breakdown(p, now)
    return snap


def assert_same(a: Any, b: Any, where: str = "") -> None:
    """Structural equality with floats equal to 1e-9 relative (ids and order exact)."""
    if isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-300), (where, a, b)
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), (where, sorted(a), sorted(b))
        for k in a:
            assert_same(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, list | tuple) and isinstance(b, list | tuple):
        assert len(a) == len(b), (where, a, b)
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif hasattr(a, "__dataclass_fields__"):
        assert_same(a.__dict__, b.__dict__, where)
    else:
        assert a == b, (where, a, b)


# ------------------------------------------------------------------------------------------- random scenario
PAPERS = [f"arxiv:2601.{i:05d}" for i in range(24)]
TOPICS = ["t-nlp", "t-vision", "t-rl", "t-theory", "t-bio"]


def scenario(seed: int, days: float = 40.0, n: int = 3000) -> list[list[ScoreUpdate]]:
    """A random stream in batches: every kind, duplicates, pending papers, topic changes, late events."""
    rng = random.Random(seed)
    st = Stream()
    out: list[ScoreUpdate] = []
    announced: dict[str, int] = {}
    assignments = 0
    recent: list[ScoreUpdate] = []
    stars: dict[str, int] = defaultdict(int)
    t = T
    for _ in range(n):
        t += rng.expovariate(n / (days * 86_400.0))
        p = rng.choice(PAPERS)
        actor = f"u{rng.randrange(12)}"
        r = rng.random()
        if r < 0.06:
            v = announced.get(p, 0) + 1
            announced[p] = v
            u = st.paper(p, t - rng.uniform(0, 3 * 86_400.0), rng.sample(TOPICS, rng.randrange(0, 3)), version=v)
        elif r < 0.10:  # a topic assignment, before or after the paper's announcement; sometimes a stale one
            assignments += 1
            version = assignments - (rng.randrange(1, 5) if rng.random() < 0.2 else 0)
            u = st.assign(p, t, rng.sample(TOPICS, rng.randrange(0, 3)), 1_000 + version)
        elif r < 0.30:
            u = st.view(p, actor, t)
        elif r < 0.42:
            u = st.vote(p, actor, t)
        elif r < 0.50:
            u = st.unvote(p, actor, t)
        elif r < 0.60:
            stars[p] = max(0, stars[p] + rng.randrange(-3, 40))
            u = st.star(p, stars[p], t)
        elif r < 0.80:
            et = rng.choice(["download", "mention", "comment"])
            u = st.add(p, et, t, {"download": 2.0, "mention": 3.0, "comment": 2.0}[et])
        elif r < 0.93 and recent:  # redelivered duplicate: same id and ts, new offset
            d = rng.choice(recent)
            u = st._u(d.topic, d.kind, d.etype, d.paper_id, d.ts, d.weight, d.event_id)._replace(
                key=d.key, until=d.until, stars=d.stars
            )
        else:  # a straggler: sometimes older than the horizon
            u = st.add(p, "comment", t - rng.uniform(0, 4 * 86_400.0), 2.0)
        if u.kind is not Kind.PAPER and u.kind is not Kind.TOPICS:
            recent = ([*recent, u])[-50:]
        out.append(u)
    batches, i = [], 0
    while i < len(out):
        k = rng.choice([1, 7, 50, 200, 400])
        batches.append(out[i : i + k])
        i += k
    return batches


# ------------------------------------------------------------------------------------------- the suite
@pytest.mark.parametrize("max_exponent", [512.0, 3.0])
async def test_random_stream_matches_reference_and_model(open_store: StoreFactory, max_exponent: float) -> None:
    """max_exponent=3 rebases the 24h window every ~3 days of event time, so rebasing is exercised hard."""
    store = open_store(max_exponent=max_exponent)
    ref = EmbeddedTrendStore(HL, horizon_s=HORIZON, max_exponent=max_exponent)
    model = Model()
    for batch in scenario(7):
        got, want = await apply(store, batch), await apply(ref, batch)
        applied, late = model.apply(batch)
        assert got == want
        assert (got.applied, list(got.late)) == (applied, late)
    for now in (T + 41 * 86_400.0, T + 55 * 86_400.0):
        snap = await snapshot(store, now, PAPERS, TOPICS)
        assert_same(snap, await snapshot(ref, now, PAPERS, TOPICS))
        for w in HL:
            for topic in [None, *TOPICS]:
                top = await store.top(w, topic, 10_000, now)
                assert [p for p, _ in top] == [p for p, _ in snap[f"top:{w}" + (f":{topic}" if topic else "")]]
                assert sorted(p for p, _ in top) == sorted(p for p, _ in model.top(w, topic, now))
                assert_matches_model(top, model, w, now)


async def test_scores_and_top_by_hand(open_store: StoreFactory) -> None:
    store, st = open_store(), Stream()
    await apply(store, [st.paper("p:a", T, ["nlp"]), st.paper("p:b", T, ["nlp", "cv"], w=0.0)])
    await apply(store, [st.add("p:b", "mention", T + 43_200.0, 3.0), st.vote("p:a", "x", T + 86_400.0)])
    now = T + 86_400.0
    # p:a = 5·2^-1 (prior, 24h old) + 5 (upvote now) = 7.5; p:b = 0 + 3·2^-0.5 = 2.1213203435596424
    top = await store.top("24h", None, 10, now)
    assert [p for p, _ in top] == ["p:a", "p:b"]
    assert math.isclose(top[0][1], 7.5, rel_tol=1e-12)
    assert math.isclose(top[1][1], 2.1213203435596424, rel_tol=1e-12)
    assert [p for p, _ in await store.top("24h", "cv", 10, now)] == ["p:b"]
    assert await store.top("24h", "nope", 10, now) == []
    # 7d: 5·2^(-1/7) + 5 = 9.5141...;  2^(-1/7) = 0.9057236642639067
    assert math.isclose((await store.scores("p:a", now))["7d"], 5 * 0.9057236642639067 + 5, rel_tol=1e-12)
    bd = await store.breakdown("p:a", now)
    assert bd["24h"]["prior"].count == 1 and math.isclose(bd["24h"]["prior"].score, 2.5, rel_tol=1e-12)
    assert bd["24h"]["upvote"].count == 1 and math.isclose(bd["24h"]["upvote"].score, 5.0, rel_tol=1e-12)
    assert await store.scores("p:none", now) == {}


async def test_replaying_an_applied_batch_changes_nothing(open_store: StoreFactory) -> None:
    store = open_store()
    batches = scenario(11, n=800)
    for b in batches:
        await apply(store, b)
    now = T + 45 * 86_400.0
    before = await snapshot(store, now, PAPERS, TOPICS)
    for b in batches[-5:]:
        res = await apply(store, b)
        assert (res.applied, res.late) == (0, ())
    assert_same(await snapshot(store, now, PAPERS, TOPICS), before)


async def test_same_event_id_counts_once_even_at_another_offset(open_store: StoreFactory) -> None:
    store, st = open_store(), Stream()
    await apply(store, [st.paper("p:a", T, w=0.0)])
    first = st.add("p:a", "download", T + 10, 2.0, eid="dup")
    again = st.add("p:a", "download", T + 10, 2.0, eid="dup")  # the producer sent it twice
    assert (await apply(store, [first])).applied == 1
    assert (await apply(store, [again])).applied == 0
    assert (await store.breakdown("p:a", T + 10))["24h"]["download"].count == 1
    assert math.isclose((await store.scores("p:a", T + 10))["24h"], 2.0, rel_tol=1e-12)


async def test_restart_after_a_crash_gives_the_clean_result(open_store: StoreFactory) -> None:
    """Crash model: the store applied batches (scores + offsets, atomically) but the consumer never committed.

    After a restart (a new adapter over the same data) the bus redelivers from the last commit, with other batch
    boundaries; whatever the store already has is skipped by offset and the rest is applied once.
    """
    batches = scenario(23, n=1500)
    flat = [u for b in batches for u in b]
    clean = open_store(horizon_s=HORIZON)
    for b in batches:
        await apply(clean, b)
    now = T + 45 * 86_400.0
    want = await snapshot(clean, now, PAPERS, TOPICS)
    await clean.reset()
    assert await clean.offsets(CONSUMER) == {}
    assert await clean.top("24h", None, 10, now) == []

    crashed = open_store()
    committed = 300  # the consumer committed up to here; the store got up to 1100
    for i in range(0, 1100, 100):
        await apply(crashed, flat[i : i + 100])
    restarted = open_store()
    assert await restarted.offsets(CONSUMER) == await crashed.offsets(CONSUMER)
    for i in range(committed, len(flat), 333):
        await apply(restarted, flat[i : i + 333])
    assert_same(await snapshot(restarted, now, PAPERS, TOPICS), want)


async def test_offsets_are_a_maximum_and_cover_records_without_updates(open_store: StoreFactory) -> None:
    store = open_store()
    await store.apply(CONSUMER, {(ENG, 0): 10, (PAP, 2): 4}, [])
    await store.apply(CONSUMER, {(ENG, 0): 7, (ENG, 1): 3}, [])
    assert await store.offsets(CONSUMER) == {(ENG, 0): 10, (ENG, 1): 3, (PAP, 2): 4}
    assert await store.offsets("other-group") == {}


async def test_dedupe_rules(open_store: StoreFactory) -> None:
    store, st = open_store(), Stream()
    await apply(store, [st.paper("p:a", T, w=0.0)])
    res = await apply(
        store,
        [
            st.vote("p:a", "ann", T + 1),
            st.vote("p:a", "ann", T + 2),  # second upvote: no effect
            st.view("p:a", "bob", T + 3),
            st.view("p:a", "bob", T + 4),  # same day bucket: once
            st.view("p:a", "bob", T + 86_400.0),  # next bucket: counts
            st.unvote("p:a", "cat", T + 5),  # cat never upvoted: no effect
            st.star("p:a", 100, T + 6),
            st.star("p:a", 90, T + 7),
            st.star("p:a", 130, T + 8),  # +30 only
        ],
    )
    assert res.applied == 1 + 2 + 2  # vote, two views, baseline + gain
    now = T + 86_400.0
    bd = (await store.breakdown("p:a", now))["24h"]
    assert (bd["upvote"].count, bd["view"].count, bd["star"].count) == (1, 2, 30)
    exp = (
        5 * 2.0 ** (-(86_399.0) / 86_400.0)
        + 2.0 ** (-(86_397.0) / 86_400.0)
        + 1.0
        + 2.0 * 30 * 2.0 ** (-(86_392.0) / 86_400.0)
    )
    assert math.isclose((await store.scores("p:a", now))["24h"], exp, rel_tol=1e-12)
    # unvote removes exactly that upvote's term; a new upvote counts again, at its own time
    await apply(store, [st.unvote("p:a", "ann", T + 50_000.0)])
    exp -= 5 * 2.0 ** (-(86_399.0) / 86_400.0)
    assert math.isclose((await store.scores("p:a", now))["24h"], exp, rel_tol=1e-12)
    assert (await store.breakdown("p:a", now))["24h"]["upvote"].count == 0
    await apply(store, [st.vote("p:a", "ann", T + 60_000.0)])
    exp += 5 * 2.0 ** (-(26_400.0) / 86_400.0)
    assert math.isclose((await store.scores("p:a", now))["24h"], exp, rel_tol=1e-12)


async def test_engagement_before_the_paper_is_held_then_ranked(open_store: StoreFactory) -> None:
    store, st = open_store(), Stream()
    await apply(store, [st.add("p:late", "mention", T, 3.0), st.vote("p:late", "a", T)])
    assert await store.top("24h", None, 10, T) == []
    assert await store.scores("p:late", T) == {}
    assert (await store.breakdown("p:late", T))["24h"]["mention"].count == 1  # explain sees it already
    await apply(store, [st.paper("p:late", T, ["nlp"], w=1.0)])
    for topic in (None, "nlp"):
        top = await store.top("24h", topic, 10, T)
        assert [p for p, _ in top] == ["p:late"] and math.isclose(top[0][1], 9.0, rel_tol=1e-12)


async def test_topic_change_moves_the_paper_and_old_versions_are_ignored(open_store: StoreFactory) -> None:
    store, st = open_store(), Stream()
    await apply(store, [st.paper("p:a", T, ["a", "b"], version=2), st.add("p:a", "comment", T, 2.0)])
    await apply(store, [st.paper("p:a", T, ["c"], version=1)])  # older revision: ignored
    assert [p for p, _ in await store.top("7d", "a", 10, T)] == ["p:a"]
    res = await apply(store, [st.paper("p:a", T, ["b", "c"], version=3)])
    assert res.applied == 1
    assert await store.top("7d", "a", 10, T) == []
    for t in ("b", "c"):
        ((p, s),) = await store.top("7d", t, 10, T)
        assert p == "p:a" and math.isclose(s, 7.0, rel_tol=1e-12)
    await apply(store, [st.add("p:a", "comment", T, 2.0)])  # topic sets follow new engagement
    assert math.isclose((await store.top("7d", "c", 10, T))[0][1], 9.0, rel_tol=1e-12)


async def test_topic_assignments_win_in_any_order(open_store: StoreFactory) -> None:
    store, st = open_store(), Stream()
    # assigned before it is announced: it waits, and the announcement's own topics give way to it
    await apply(store, [st.assign("p:a", T, ["t1"], 10), st.add("p:a", "comment", T, 2.0)])
    assert await store.top("7d", "t1", 10, T) == []
    await apply(store, [st.paper("p:a", T, ["t-old"], w=1.0)])
    assert [p for p, _ in await store.top("7d", "t1", 10, T)] == ["p:a"]
    assert await store.top("7d", "t-old", 10, T) == []
    # announced first, assigned after: it moves at once; a stale or replayed assignment changes nothing
    await apply(store, [st.paper("p:b", T, [], w=1.0)])
    res = await apply(store, [st.assign("p:b", T, ["t1", "t2"], 10)])
    assert res.applied == 1
    assert {p for p, _ in await store.top("7d", "t1", 10, T)} == {"p:a", "p:b"}
    res = await apply(store, [st.assign("p:b", T, ["t9"], 9), st.assign("p:b", T, ["t1", "t2"], 10)])
    assert res.applied == 0 and await store.top("7d", "t9", 10, T) == []
    # a rename or merge: the next run's assignment; a re-announced paper keeps it
    await apply(store, [st.assign("p:a", T, ["t2"], 11), st.paper("p:a", T, ["t-old"], version=2, w=1.0)])
    assert [p for p, _ in await store.top("7d", "t1", 10, T)] == ["p:b"]
    assert {p for p, _ in await store.top("7d", "t2", 10, T)} == {"p:a", "p:b"}
    ((_, s),) = [x for x in await store.top("7d", "t2", 10, T) if x[0] == "p:a"]
    assert math.isclose(s, 3.0, rel_tol=1e-12)  # prior 1 + comment 2, moved with the paper
    await apply(store, [st.assign("p:b", T, [], 12)])  # out of every topic
    assert [p for p, _ in await store.top("7d", "t2", 10, T)] == ["p:a"]


async def test_events_older_than_the_dedupe_horizon_are_refused(open_store: StoreFactory) -> None:
    store, st = open_store(), Stream()
    p = "p:a"  # all in one partition
    res = await apply(
        store,
        [
            st.paper(p, T),
            st.add(p, "comment", T + 10 * 86_400.0, 2.0),
            st.add(p, "comment", T + 7 * 86_400.0, 2.0),  # 3 days behind: late
            st.add(p, "comment", T + 8.5 * 86_400.0, 2.0),
        ],
    )  # 1.5 days behind: fine
    assert (res.applied, res.late) == (3, (2,))


async def test_rebasing_over_five_years_matches_the_naive_formula(open_store: StoreFactory) -> None:
    """One paper per simulated day for 5 years with engagement every ~2 h: the 24h window (H = 1 day) is
    rebased every 512 days; scores must still equal Σ w·2^(−(t − ts)/H) to 1e-9. Checked after every batch:
    just after a rebase the recent terms (added before it) carry the score, so a wrong rescale shows."""
    store, st, model = open_store(horizon_s=10 * 86_400.0), Stream(), Model(horizon=10 * 86_400.0)
    rng = random.Random(5)
    batch: list[ScoreUpdate] = []
    days = 5 * 365
    for d in range(days):
        day = T + d * 86_400.0
        pid = f"p:{d}"
        batch.append(st.paper(pid, day, [f"y{d // 365}"]))
        for k in range(12):
            target = f"p:{max(0, d - rng.randrange(0, 5))}"
            batch.append(st.add(target, "download", day + k * 7_200.0 + rng.uniform(0, 7_000), 2.0))
        if len(batch) >= 26 or d == days - 1:  # ~2 days per batch, so rebases land between batches
            assert (await apply(store, batch)).applied == model.apply(batch)[0]
            now = max(u.ts for u in batch)  # 24h is the window that rebases (every 512 days)
            assert_matches_model(await store.top("24h", None, 10, now), model, "24h", now)
            batch = []
    now = T + days * 86_400.0
    for w in HL:
        top = await store.top(w, None, 50, now)
        assert len(top) == 50 and top[0][1] > 1.0
        assert_matches_model(top, model, w, now)
        want = [p for p, _ in model.top(w, None, now)[:50]]
        assert [p for p, _ in top][:20] == want[:20]
        assert_matches_model(await store.top(w, "y4", 20, now), model, w, now)


async def test_changed_half_life_needs_a_rebuild(open_store: StoreFactory) -> None:
    store, st = open_store(), Stream()
    await apply(store, [st.paper("p:a", T)])
    other = open_store()
    other.half_lives["24h"] = 43_200.0  # type: ignore[index]
    with pytest.raises(HalfLifeChanged):
        await apply(other, [st.add("p:a", "comment", T, 2.0)])
    assert (await store.breakdown("p:a", T))["24h"].get("comment") is None


async def test_breakdown_sums_to_the_score(open_store: StoreFactory) -> None:
    store = open_store()
    for b in scenario(3, n=600):
        await apply(store, b)
    now = T + 41 * 86_400.0
    for p in PAPERS:
        scores, bd = await store.scores(p, now), await store.breakdown(p, now)
        for w, s in scores.items():
            parts = [b.score for b in bd[w].values()]
            assert set(bd[w]) <= set(ETYPES)
            assert abs(math.fsum(parts) - s) <= 1e-9 * math.fsum(abs(x) for x in parts)


# ------------------------------------------------------------------------------------------- poison (issue 14)
async def test_a_star_snapshot_of_1e308_after_0_is_refused_and_the_score_stays_finite(
    open_store: StoreFactory,
) -> None:
    store, st = open_store(), Stream()
    await apply(store, [st.paper("p:a", T, w=1.0)])
    await apply(store, [st.star("p:a", 0, T + 1)])  # the baseline
    huge = st.star("p:a", 10**308, T + 2, eid="huge")
    res = await apply(store, [huge])
    assert res.applied == 0 and [i for i, _ in res.invalid] == [0] and "star count" in res.invalid[0][1]
    # later real snapshots count from the real baseline: the refused one left no high-water mark
    res = await apply(store, [st.star("p:a", 10, T + 3)])
    assert res.applied == 1 and res.invalid == ()
    bd = (await store.breakdown("p:a", T + 3))["24h"]
    assert bd["star"].count == 10
    ((_, s),) = await store.top("24h", None, 10, T + 3)
    assert math.isfinite(s) and math.isclose(s, 2.0 ** (-3 / 86_400.0) + 2.0 * 10, rel_tol=1e-12)
    # and its event id was not consumed: the same id, corrected, still counts
    res = await apply(store, [st.star("p:a", 12, T + 4, eid="huge")])
    assert res.applied == 1 and (await store.breakdown("p:a", T + 4))["24h"]["star"].count == 12


async def test_a_star_snapshot_of_1e309_neither_fails_the_batch_nor_poisons_the_partition(
    open_store: StoreFactory,
) -> None:
    store, st = open_store(), Stream()
    await apply(store, [st.paper("p:a", T, w=1.0), st.star("p:a", 5, T + 1)])
    batch = [st.add("p:a", "mention", T + 2, 3.0), st.star("p:a", 10**309, T + 3), st.star("p:a", 9, T + 4)]
    res = await apply(store, batch)  # an OverflowError here used to fail the batch half-written
    assert (res.applied, [i for i, _ in res.invalid], res.late) == (2, [1], ())
    assert (await store.breakdown("p:a", T + 4))["24h"]["star"].count == 4
    assert (await store.offsets(CONSUMER))[(ENG, Stream.part("p:a"))] == batch[-1].offset + 1


@pytest.mark.parametrize(
    "bad",
    [
        {"ts": math.nan},
        {"ts": math.inf},
        {"ts": -1.0},
        {"ts": 2.0**37},
        {"weight": math.inf},
        {"weight": -math.inf},
        {"weight": 1e7},
        {"stars": -1},
        {"stars": 2**64},
    ],
)
async def test_values_outside_the_bounds_are_refused_without_a_trace(
    open_store: StoreFactory, bad: dict[str, Any]
) -> None:
    store, st = open_store(), Stream()
    await apply(store, [st.paper("p:a", T, w=1.0), st.star("p:a", 1, T)])
    now = T + 10
    before = await snapshot(store, now, ["p:a"], [])
    poison = st.star("p:a", 50, T + 5, eid="poison")._replace(**bad)
    res = await apply(store, [poison])
    assert res.applied == 0 and [i for i, _ in res.invalid] == [0]
    after = await snapshot(store, now, ["p:a"], [])
    assert after.pop("offsets") == {**before.pop("offsets"), (ENG, poison.partition): poison.offset + 1}
    assert_same(after, before)
    # no watermark moved (a later event is not "late"), no id consumed, no star mark set
    res = await apply(store, [st.star("p:a", 3, T + 6, eid="poison")])
    assert (res.applied, res.late, res.invalid) == (1, (), ())
    assert (await store.breakdown("p:a", now))["24h"]["star"].count == 2


async def test_a_batch_that_fails_leaves_no_trace(open_store: StoreFactory) -> None:
    """A malformed update (a bug upstream: an upvote without an actor) makes the call raise; nothing of the batch
    may be stored — not the event ids, watermarks, star marks or offsets of the updates before it."""
    store, st = open_store(), Stream()
    await apply(store, [st.paper("p:a", T, ["nlp"], w=1.0), st.star("p:a", 1, T)])
    now = T + 100
    before = await snapshot(store, now, ["p:a", "p:b"], ["nlp"])
    good = [
        st.add("p:a", "mention", T + 10, 3.0),
        st.star("p:a", 40, T + 11),
        st.vote("p:a", "ann", T + 12),
        st.paper("p:b", T + 13, ["nlp"]),
        st.view("p:a", "bob", T + 14),
    ]
    broken = st.vote("p:a", "zed", T + 15)._replace(key=None)  # type: ignore[arg-type]
    with pytest.raises(Exception):  # noqa: B017 - TypeError (embedded) or the script's error (Redis)
        await apply(store, [*good[:3], broken, *good[3:]])
    assert_same(await snapshot(store, now, ["p:a", "p:b"], ["nlp"]), before)
    res = await apply(store, good)  # the same events again, without the broken one: every one counts
    assert res.applied == 5
    bd = (await store.breakdown("p:a", now))["24h"]
    assert (bd["mention"].count, bd["star"].count, bd["upvote"].count, bd["view"].count) == (1, 39, 1, 1)


async def test_scores_stay_finite_at_the_bounds(open_store: StoreFactory) -> None:
    """The largest weight and star gain, many times over, across rebases: every score finite."""
    store, st = open_store(max_exponent=512.0), Stream()
    await apply(store, [st.paper("p:a", T, w=1e6)])
    batch = [st.star("p:a", 0, T)]
    for k in range(1, 200):
        batch.append(st.star("p:a", k * 5_000_000, T + k * 86_400.0 * 5, w=1e6))  # gains of 5e6 stars
        batch.append(st.add("p:a", "mention", T + k * 86_400.0 * 5, 1e6))
    for i in range(0, len(batch), 50):
        res = await apply(store, batch[i : i + 50])
        assert res.invalid == ()
    now = T + 200 * 86_400.0 * 5
    for w in HL:
        ((_, s),) = await store.top(w, None, 10, now)
        assert math.isfinite(s) and s > 0


async def test_an_assignment_outside_the_bounds_is_refused_and_a_failed_batch_undoes_assignments(
    open_store: StoreFactory,
) -> None:
    store, st = open_store(), Stream()
    await apply(store, [st.paper("p:a", T, ["t0"], w=1.0), st.assign("p:a", T, ["t1"], 10)])
    now = T + 100
    before = await snapshot(store, now, ["p:a"], ["t0", "t1", "t2"])
    res = await apply(store, [st.assign("p:a", T + 1, ["t2"], 2**60)])  # a version no double holds exactly
    assert res.applied == 0 and [i for i, _ in res.invalid] == [0] and "assignment version" in res.invalid[0][1]
    after = await snapshot(store, now, ["p:a"], ["t0", "t1", "t2"])
    after.pop("offsets"), before.pop("offsets")
    assert_same(after, before)
    # An assignment in a batch that fails is undone with the rest: p:a stays in t1 only.
    broken = st.vote("p:a", "zed", T + 15)._replace(key=None)  # type: ignore[arg-type]
    with pytest.raises(Exception):  # noqa: B017 - TypeError (embedded) or the script's error (Redis)
        await apply(store, [st.assign("p:a", T + 2, ["t2"], 11), broken])
    assert {p for p, _ in await store.top("24h", "t1", 10, now)} == {"p:a"}
    assert not await store.top("24h", "t2", 10, now)
