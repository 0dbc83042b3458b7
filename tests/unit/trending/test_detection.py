"""Detection (paperwire_trending.detection): ids carried over, each event once."""

from __future__ import annotations

from paperwire_trending.bursts import TrendParams
from paperwire_trending.clustering import cluster_papers
from paperwire_trending.detection import CREATED, TRENDING, assign_ids, detect, event_id, fresh_topic_id

from .corpus import NOW, W, arrivals, corpus, noise_papers, themes_of, timed


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


def test_each_event_once() -> None:
    params = TrendParams(window_s=W, baseline_windows=7, min_history_windows=3, min_recent=3)
    base_t = arrivals([1] * 7, 0)
    burst_t = arrivals([], 6)
    ps = corpus({"ts": 13, "proteins": 13})
    ts = [p for p in ps if "ts" in p.id]
    prot = [p for p in ps if "proteins" in p.id]
    before = timed(ts[:7], base_t) + timed(prot[:7], base_t)
    d1 = detect(before, {}, set(), NOW - W, trend=params)
    assert sorted(e.kind for e in d1.events) == [CREATED, CREATED]
    assert all(e.id == event_id(CREATED, e.topic_id) for e in d1.events)
    state, sent = {r.id: r for r in d1.topics}, {e.id for e in d1.events}
    # Same input again: nothing new.
    assert detect(before, state, sent, NOW - W, trend=params).events == []

    after = before + timed(ts[7:], burst_t) + timed(prot[7:8], burst_t[:1])
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
    steady = arrivals([5] * 7, 5, offset=0.5)
    papers = timed(ps, arrivals([1] * 7, 6)) + timed(noise_papers(len(steady)), steady)
    # Bursting already, but new: one topic.created, no topic.trending.
    d = detect(papers, {}, set(), NOW, trend=params)
    assert [e.kind for e in d.events] == [CREATED]
    assert d.topics[0].trend is not None and d.topics[0].trend.bursting
    gone = detect([], {r.id: r for r in d.topics}, {e.id for e in d.events}, NOW + 1, trend=params)
    assert (gone.topics, gone.events) == ([], [])
