"""Topics (pure): clustering, labels, stable ids, burst statistics and event ids; the memory TopicStore and
the gateway read helpers."""

from __future__ import annotations

import math
import random
from typing import Any, cast

import numpy as np
import pytest

from paperwire_common.search.port import SearchIndex
from paperwire_trending.topic_job import get_topic, list_topics
from paperwire_trending.topic_store import MemoryTopicStore
from paperwire_trending.topics import (
    CREATED,
    TRENDING,
    ClusterParams,
    Paper,
    TopicRecord,
    TrendParams,
    assign_ids,
    average_linkage,
    burst,
    cluster_papers,
    detect,
    event_id,
    fresh_topic_id,
)

DIM = 384
THEMES: dict[str, list[str]] = {
    "ts": ["time series forecasting", "time series", "forecasting horizon", "temporal patterns", "foundation model"],
    "proteins": ["protein structure prediction", "protein folding", "amino acid sequences", "structural biology"],
    "robots": ["robot manipulation", "grasping policies", "robot learning", "dexterous hands"],
}
SHARED = ["deep learning", "neural networks", "benchmarks", "large language models"]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def corpus(sizes: dict[str, int], seed: int = 7, t0: float = 1_000.0, noise: float = 0.03) -> list[Paper]:
    """Papers around one random direction per theme (pairwise cosine ~0.75 inside, ~0 across), keyphrases
    from the theme plus generic ones, ids t:<theme>:<n>."""
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    out = []
    for theme in sorted(THEMES):
        center = _unit(rng.normal(size=DIM))
        for n in range(sizes.get(theme, 0)):
            v = _unit(center + rng.normal(scale=noise, size=DIM))
            kps = tuple(pick.sample(THEMES[theme], 3) + pick.sample(SHARED, 2))
            out.append(Paper(f"t:{theme}:{n:03d}", v, kps, f"{theme} paper {n}", t0 + n))
    return out


def noise_papers(n: int, seed: int = 11) -> list[Paper]:
    rng = np.random.default_rng(seed)
    return [Paper(f"n:{i:03d}", _unit(rng.normal(size=DIM)), ("misc",), f"noise {i}", 500.0) for i in range(n)]


def themes_of(members: tuple[str, ...] | list[str]) -> set[str]:
    return {m.split(":")[1] for m in members}


# ------------------------------------------------------------------------------------------------ clustering


def test_clusters_follow_the_themes_and_drop_noise_and_small_groups() -> None:
    ps = corpus({"ts": 12, "proteins": 8, "robots": 3}) + noise_papers(20)
    cs = cluster_papers(ps, ClusterParams(min_size=4))
    assert [len(c.members) for c in cs] == [12, 8]  # biggest first; robots (3) below min_size; noise alone
    assert [themes_of(c.members) for c in cs] == [{"ts"}, {"proteins"}]
    assert all(0.6 < c.cohesion < 0.9 for c in cs)
    assert list(cs[0].members) == sorted(cs[0].members)


def test_same_topics_whatever_the_input_order() -> None:
    ps = corpus({"ts": 10, "proteins": 9, "robots": 6}) + noise_papers(15)
    want = cluster_papers(ps)
    rng = random.Random(3)
    for _ in range(5):
        shuffled = ps[:]
        rng.shuffle(shuffled)
        assert cluster_papers(shuffled) == want
        a = detect(shuffled, {}, set(), 5_000.0)
        b = detect(ps, {}, set(), 5_000.0)
        assert a == b


def test_average_linkage_matches_the_textbook_algorithm() -> None:
    """NN-chain over sums == naive 'merge the most similar pair while mean cross similarity >= cut'."""
    rng = np.random.default_rng(5)
    centers = [_unit(rng.normal(size=16)) for _ in range(4)]
    x = np.asarray([_unit(centers[i % 4] + rng.normal(scale=0.35, size=16)) for i in range(40)])
    for cut in (0.2, 0.4, 0.6):
        got = average_linkage(x.copy(), np.ones(len(x)), cut)
        groups = [[i] for i in range(len(x))]
        while True:
            best, pair = -math.inf, None
            for a in range(len(groups)):
                for b in range(a + 1, len(groups)):
                    s = float(np.mean(x[groups[a]] @ x[groups[b]].T))
                    if s > best:
                        best, pair = s, (a, b)
            if pair is None or best < cut:
                break
            a, b = pair
            groups[a] = sorted(groups[a] + groups[b])
            del groups[b]
        assert sorted(map(sorted, got)) == sorted(groups), cut


def test_micro_clusters_for_large_corpora_keep_the_themes_apart() -> None:
    ps = corpus({"ts": 30, "proteins": 25, "robots": 20}, noise=0.02)
    exact = cluster_papers(ps)
    fast = cluster_papers(ps, ClusterParams(max_exact=10))
    assert [c.members for c in fast] == [c.members for c in exact]


def test_params_are_checked() -> None:
    with pytest.raises(ValueError):
        ClusterParams(distance_threshold=0)
    with pytest.raises(ValueError):
        ClusterParams(min_size=1)
    with pytest.raises(ValueError):
        TrendParams(baseline_windows=3, min_history_windows=4)


# ------------------------------------------------------------------------------------------------ labels


def test_labels_are_the_distinctive_readable_phrases() -> None:
    ps = corpus({"ts": 12, "proteins": 10, "robots": 8})
    by_theme = {next(iter(themes_of(c.members))): c for c in cluster_papers(ps)}
    ts = by_theme["ts"]
    assert ts.label.split(", ")[0] in {"time series forecasting", "time series"}
    assert "time series" in ts.label
    assert "protein" in by_theme["proteins"].label
    assert "robot" in by_theme["robots"].label
    for c in by_theme.values():
        assert 1 <= len(c.label.split(", ")) <= 3
        # Shared by every theme: never distinctive enough to label one.
        assert not any(s in c.label for s in ("deep learning", "neural networks", "benchmarks"))
        # No term repeats another ("time series" next to "time series forecasting").
        words = [w for term in c.label.split(", ") for w in term.split()]
        assert len(words) == len(set(words)), c.label
        assert len(c.keyphrases) >= 3


def test_labels_fall_back_to_titles_without_keyphrases() -> None:
    ps = [
        Paper(p.id, p.vector, (), f"Graph neural networks for traffic number {i}", p.ingested_at)
        for i, p in enumerate(corpus({"ts": 6}))
    ]
    (c,) = cluster_papers(ps)
    assert "graph neural" in c.label or "traffic" in c.label


# ------------------------------------------------------------------------------------------------ stable ids


def test_ids_survive_reclustering_with_added_papers() -> None:
    first = corpus({"ts": 8, "proteins": 8})
    d1 = detect(first, {}, set(), 5_000.0)
    assert [e.kind for e in d1.events] == [CREATED, CREATED]
    ids1 = {next(iter(themes_of(r.members))): r.id for r in d1.topics}
    for r in d1.topics:
        assert r.id == fresh_topic_id(r.members)  # founding members

    grown = corpus({"ts": 14, "proteins": 11, "robots": 6})  # same seeds: the first papers are the same
    assert {p.id for p in first} <= {p.id for p in grown}
    d2 = detect(grown, {r.id: r for r in d1.topics}, {e.id for e in d1.events}, 6_000.0)
    ids2 = {next(iter(themes_of(r.members))): r.id for r in d2.topics}
    assert ids2["ts"] == ids1["ts"] and ids2["proteins"] == ids1["proteins"]
    assert [(e.kind, e.topic_id) for e in d2.events] == [(CREATED, ids2["robots"])]
    kept = {r.id: r for r in d2.topics}
    assert kept[ids1["ts"]].created_at == 5_000.0 and kept[ids1["ts"]].updated_at == 6_000.0
    assert kept[ids1["ts"]].size == 14


def test_low_overlap_gets_a_fresh_id_and_overlap_is_one_to_one() -> None:
    ps = corpus({"ts": 10, "proteins": 10})
    cs = cluster_papers(ps)
    ts = next(c for c in cs if themes_of(c.members) == {"ts"})
    # A previous topic sharing 2 of 10 papers (Jaccard 2/18 < 0.3) does not pass its id on.
    prev = {"tp-old": [*ts.members[:2], "x:1", "x:2", "x:3", "x:4", "x:5", "x:6", "x:7", "x:8"]}
    named = dict((c.members, tid) for tid, c in assign_ids(cs, prev))
    assert named[ts.members] == fresh_topic_id(ts.members)
    # Two previous topics overlapping the same cluster: the bigger overlap wins, the other is not reused.
    prev = {"tp-a": list(ts.members[:7]), "tp-b": list(ts.members[5:])}
    named = dict((c.members, tid) for tid, c in assign_ids(cs, prev))
    assert named[ts.members] == "tp-a"
    assert "tp-b" not in named.values()


# ------------------------------------------------------------------------------------------------ bursts

W = 100.0
NOW = 10_000.0  # window index 100


def _arrivals(per_window: list[int], recent: int, offset: float = 0.0) -> list[float]:
    """per_window[j] arrivals in baseline window j (oldest first, len 7), `recent` in (NOW − W, NOW]."""
    out = []
    k = len(per_window)
    for j, c in enumerate(per_window):
        start = NOW - (k + 1 - j) * W
        out += [start + 1 + i + offset for i in range(c)]
    out += [NOW - W + 1 + i + offset for i in range(recent)]
    return out


def test_burst_z_score_and_lift() -> None:
    params = TrendParams(window_s=W, baseline_windows=7, min_history_windows=3, min_recent=3)
    topic = _arrivals([1] * 7, 6)
    others = _arrivals([10] * 7, 10, offset=0.5)
    t = burst(topic, topic + others, NOW, params)
    assert t.window == 100 and t.recent == 6 and t.history == 7
    assert t.arrivals == [1, 1, 1, 1, 1, 1, 1, 6]
    assert (t.baseline, t.std) == (1.0, 0.0)
    assert t.z == 5.0  # (6 − 1) / max(0, √1, 1)
    assert t.lift == pytest.approx((6 / 16) / (7 / 77))
    assert t.bursting

    varied = _arrivals([2, 4, 2, 4, 2, 4, 2], 9)
    t = burst(varied, varied, NOW, params)
    mean, std = 20 / 7, float(np.std([2, 4, 2, 4, 2, 4, 2]))
    assert t.baseline == pytest.approx(mean, abs=1e-6) and t.std == pytest.approx(std, abs=1e-6)
    assert t.z == pytest.approx((9 - mean) / max(std, math.sqrt(mean), 1.0), abs=1e-6)


def test_no_burst_without_history_volume_or_lift() -> None:
    params = TrendParams(window_s=W, baseline_windows=7, min_history_windows=3, min_recent=3)
    # Everything arrived in the last window (a backfill, or the e2e test): no history, no trend.
    fresh = [NOW - 10.0] * 20
    t = burst(fresh, fresh, NOW, params)
    assert (t.recent, t.history, t.bursting) == (20, 0, False)
    # Only 2 windows of history: too young to have a baseline.
    young = _arrivals([0, 0, 0, 0, 0, 1, 1], 8)
    assert burst(young, young, NOW, params).history == 2
    assert not burst(young, young, NOW, params).bursting
    # A corpus-wide surge: the topic grows 6x, so does everything else: lift 1, not trending.
    topic = _arrivals([1] * 7, 6)
    others = _arrivals([10] * 7, 60, offset=0.5)
    t = burst(topic, topic + others, NOW, params)
    assert t.z == 5.0 and t.lift == pytest.approx(1.0) and not t.bursting
    # Too few papers, however unusual.
    quiet = _arrivals([0, 0, 0, 0, 0, 0, 1], 2)
    assert not burst(quiet, quiet, NOW, params).bursting
    # Arrivals stamped after now are not counted.
    assert burst([NOW + 50.0], [NOW + 50.0], NOW, params).recent == 0


# ------------------------------------------------------------------------------------------------ events


def _timed(papers: list[Paper], times: list[float]) -> list[Paper]:
    return [Paper(p.id, p.vector, p.keyphrases, p.title, t) for p, t in zip(papers, times, strict=True)]


def test_each_event_once() -> None:
    params = TrendParams(window_s=W, baseline_windows=7, min_history_windows=3, min_recent=3)
    base_t = _arrivals([1] * 7, 0)
    burst_t = _arrivals([], 6)
    ps = corpus({"ts": 13, "proteins": 13})
    ts = [p for p in ps if "ts" in p.id]
    prot = [p for p in ps if "proteins" in p.id]
    before = _timed(ts[:7], base_t) + _timed(prot[:7], base_t)
    d1 = detect(before, {}, set(), NOW - W, trend=params)
    assert sorted(e.kind for e in d1.events) == [CREATED, CREATED]
    assert all(e.id == event_id(CREATED, e.topic_id) for e in d1.events)
    state, sent = {r.id: r for r in d1.topics}, {e.id for e in d1.events}
    # Same input again: nothing new.
    assert detect(before, state, sent, NOW - W, trend=params).events == []

    after = before + _timed(ts[7:], burst_t) + _timed(prot[7:8], burst_t[:1])
    d2 = detect(after, state, sent, NOW, trend=params)
    (ev,) = d2.events
    ts_id = next(r.id for r in d2.topics if themes_of(r.members) == {"ts"})
    assert (ev.kind, ev.topic_id) == (TRENDING, ts_id)
    assert ev.id == event_id(TRENDING, ts_id, 100) and ev.score == 5.0 and ev.detected_at == NOW
    assert sorted(ev.paper_ids) == sorted(p.id for p in ts[7:])  # the papers of the burst
    assert ev.paper_ids[0] == ts[-1].id  # newest first
    # A crash between publish and save re-runs on the old state: the very same ids (consumers dedupe them).
    assert [e.id for e in detect(after, state, sent, NOW, trend=params).events] == [ev.id]
    # Saved: later in the same window, nothing; in the next window, not again either (cooldown).
    state2, sent2 = {r.id: r for r in d2.topics}, sent | {ev.id}
    assert detect(after, state2, sent2, NOW + 30, trend=params).events == []
    assert event_id(TRENDING, ts_id, 100) in sent2
    assert detect(after, state2, sent2 - {ev.id} | {event_id(TRENDING, ts_id, 99)}, NOW, trend=params).events == []
    # Ids are deterministic and distinct per kind and window.
    assert len({event_id(CREATED, "a"), event_id(TRENDING, "a", 1), event_id(TRENDING, "a", 2)}) == 3


def test_a_created_topic_does_not_also_trend_and_topics_vanish_quietly() -> None:
    params = TrendParams(window_s=W, baseline_windows=7, min_history_windows=3, min_recent=3)
    ps = corpus({"ts": 13})
    steady = _arrivals([5] * 7, 5, offset=0.5)
    papers = _timed(ps, _arrivals([1] * 7, 6)) + _timed(noise_papers(len(steady)), steady)
    # Bursting already, but new: one topic.created, no topic.trending.
    d = detect(papers, {}, set(), NOW, trend=params)
    assert [e.kind for e in d.events] == [CREATED]
    assert d.topics[0].trend is not None and d.topics[0].trend.bursting
    gone = detect([], {r.id: r for r in d.topics}, {e.id for e in d.events}, NOW + 1, trend=params)
    assert (gone.topics, gone.events) == ([], [])


# ------------------------------------------------------------------------------------------------ store + reads


async def test_memory_store_replaces_topics_and_forgets_old_event_ids() -> None:
    store = MemoryTopicStore(emitted_retention_s=100.0)
    assert (await store.load()).as_of is None
    d = detect(corpus({"ts": 8, "proteins": 6}), {}, set(), 1_000.0)
    await store.save(d.topics, {e.id: e.detected_at for e in d.events}, 1_000.0)
    state = await store.load()
    assert state.as_of == 1_000.0 and set(state.topics) == {r.id for r in d.topics}
    assert state.emitted == {e.id for e in d.events}
    await store.save(d.topics[:1], {"later": 1_150.0}, 1_150.0)  # the first ids are 150 s old now
    state = await store.load()
    assert list(state.topics) == [d.topics[0].id] and state.emitted == {"later"}
    assert await store.get(d.topics[0].id) == d.topics[0] and await store.get("nope") is None


class _Index:
    def __init__(self, docs: dict[str, dict[str, Any]]) -> None:
        self.docs = docs

    async def get(self, paper_id: str) -> dict[str, Any] | None:
        return self.docs.get(paper_id)


def _record(tid: str, size: int, z: float, created: float) -> TopicRecord:
    return TopicRecord.model_validate(
        {
            "id": tid,
            "label": f"label {tid}",
            "keyphrases": ["a", "b"],
            "members": [f"{tid}:{i}" for i in range(size)],
            "size": size,
            "cohesion": 0.5,
            "created_at": created,
            "updated_at": created,
            "trend": {
                "window": 1,
                "recent": 2,
                "baseline": 1.0,
                "std": 0.0,
                "z": z,
                "lift": None,
                "history": 3,
                "arrivals": [1, 1, 1, 2],
                "bursting": False,
            },
        }
    )


async def test_list_and_get_topic() -> None:
    store = MemoryTopicStore()
    await store.save([_record("a", 5, 0.5, 10.0), _record("b", 9, 3.0, 5.0), _record("c", 7, -1.0, 20.0)], {}, 20.0)
    assert [t["id"] for t in await list_topics(store)] == ["b", "c", "a"]
    assert [t["id"] for t in await list_topics(store, sort="trending", size=2)] == ["b", "a"]
    assert [t["id"] for t in await list_topics(store, sort="recent")] == ["c", "a", "b"]
    first = (await list_topics(store, size=1))[0]
    assert first["trend"] == {"recent": 2, "baseline": 1.0, "z": 3.0, "lift": None, "bursting": False}
    assert {"id", "label", "keyphrases", "size", "trend"} <= set(first)

    docs = {f"a:{i}": {"title": f"paper {i}", "ingested_at": float(i)} for i in range(4)}  # a:4 not indexed
    got = await get_topic(store, cast(SearchIndex, _Index(docs)), "a")
    assert got is not None and got["size"] == 5 and got["label"] == "label a"
    assert got["papers"] == [{"id": f"a:{i}", "title": f"paper {i}"} for i in (3, 2, 1, 0)]
    assert await get_topic(store, cast(SearchIndex, _Index(docs)), "zzz") is None
