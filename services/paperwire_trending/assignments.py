"""Topic assignments (papers.topics.v1): which papers a re-clustering moved, renamed or took out of a topic.

Pure: the previous and the new topics in, one PaperTopics per paper whose topics (ids or labels) changed out.
When the previous topics were never announced (a first run, a store from before this stream), every paper in a
topic is announced. A paper that left every topic gets an empty assignment. `assigned_at` is the run's time,
so a later run's assignment replaces an earlier one wherever it is read (the index and the trend store keep the
latest), and the event id is a hash of (paper, time): a re-published run is deduplicated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from paperwire_common import ids
from paperwire_common.events import PaperTopics
from paperwire_common.topics import TopicRecord

Assigned = dict[str, list[tuple[str, str]]]  # paper id -> [(topic id, label)], by topic id


def by_paper(topics: Iterable[TopicRecord]) -> Assigned:
    out: Assigned = {}
    for t in topics:
        for pid in t.members:
            out.setdefault(pid, []).append((t.id, t.label))
    for v in out.values():
        v.sort()
    return out


def changed_assignments(
    previous: Mapping[str, TopicRecord] | None, current: Iterable[TopicRecord], now: float
) -> list[PaperTopics]:
    """The assignments to publish after a re-clustering, by paper id; `previous` None: never announced."""
    old = by_paper(previous.values()) if previous is not None else {}
    new = by_paper(current)
    out = []
    for pid in sorted(old.keys() | new.keys()):
        got = new.get(pid, [])
        if previous is not None and old.get(pid, []) == got:
            continue
        out.append(
            PaperTopics(
                id=ids.event_id("paper.topics", pid, repr(now)),
                paper_id=pid,
                topics=[t for t, _ in got],
                topic_labels=[label for _, label in got],
                assigned_at=now,
            )
        )
    return out
