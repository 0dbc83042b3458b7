"""Pure indexing logic: which documents one batch writes."""

from __future__ import annotations

from typing import Any

from paperwire_common.events import PaperEnriched, PaperTopics
from paperwire_common.search.document import to_document
from paperwire_common.search.port import TopicAssignment


def latest_documents(events: list[PaperEnriched]) -> list[dict[str, Any]]:
    """One document per paper: the highest version in the batch (the index would ignore the older anyway)."""
    best: dict[str, PaperEnriched] = {}
    for e in events:
        cur = best.get(e.paper.paper_id)
        if cur is None or e.paper.version > cur.paper.version:
            best[e.paper.paper_id] = e
    return [to_document(e) for e in best.values()]


def latest_assignments(events: list[PaperTopics]) -> list[TopicAssignment]:
    """One assignment per paper: the latest in the batch (the index would ignore the older anyway)."""
    best: dict[str, PaperTopics] = {}
    for e in events:
        cur = best.get(e.paper_id)
        if cur is None or e.version > cur.version:
            best[e.paper_id] = e
    return [TopicAssignment(e.paper_id, tuple(e.topics), tuple(e.topic_labels), e.version) for e in best.values()]
