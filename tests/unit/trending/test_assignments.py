"""Which papers a re-clustering announces on papers.topics.v1: those whose topics (ids or labels) changed."""

from __future__ import annotations

from paperwire_common.topics import MemoryTopicStore, TopicRecord
from paperwire_trending.assignments import changed_assignments


def topic(tid: str, label: str, *members: str) -> TopicRecord:
    return TopicRecord(
        id=tid,
        label=label,
        keyphrases=[],
        members=sorted(members),
        size=len(members),
        cohesion=0.5,
        created_at=0.0,
        updated_at=0.0,
    )


def test_first_announcement_names_every_member() -> None:
    now = [topic("t1", "time series", "p:a", "p:b"), topic("t2", "agents", "p:c")]
    got = changed_assignments(None, now, 100.0)
    assert [(e.paper_id, e.topics, e.topic_labels) for e in got] == [
        ("p:a", ["t1"], ["time series"]),
        ("p:b", ["t1"], ["time series"]),
        ("p:c", ["t2"], ["agents"]),
    ]
    assert all(e.assigned_at == 100.0 and e.version == 100_000 for e in got)
    assert len({e.id for e in got}) == 3 and changed_assignments(None, now, 100.0)[0].id == got[0].id


def test_only_changes_are_announced_renames_merges_and_leavers_included() -> None:
    before = {
        t.id: t
        for t in [
            topic("t1", "time series", "p:a", "p:b"),
            topic("t2", "agents", "p:c", "p:d"),
            topic("t3", "x", "p:e"),
        ]
    }
    after = [
        topic("t1", "time series forecasting", "p:a", "p:b"),  # renamed: both members again
        topic("t2", "agents", "p:c", "p:d", "p:f"),  # f joined; c and d unchanged
        # t3 merged away: e left every topic
    ]
    got = {e.paper_id: (e.topics, e.topic_labels) for e in changed_assignments(before, after, 200.0)}
    assert got == {
        "p:a": (["t1"], ["time series forecasting"]),
        "p:b": (["t1"], ["time series forecasting"]),
        "p:f": (["t2"], ["agents"]),
        "p:e": ([], []),
    }
    assert changed_assignments({t.id: t for t in after}, after, 300.0) == []  # nothing changed: nothing sent


async def test_the_memory_store_is_announced_once_saved() -> None:
    store = MemoryTopicStore()
    assert not (await store.load()).announced  # a fresh process announces every member again
    await store.save([topic("t1", "x", "p:a")], {}, 1.0)
    assert (await store.load()).announced
