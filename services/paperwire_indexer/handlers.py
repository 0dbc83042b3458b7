"""Pure indexing logic: which documents one batch writes."""

from __future__ import annotations

from typing import Any

from paperwire_common.events import PaperEnriched
from paperwire_common.search.document import to_document


def latest_documents(events: list[PaperEnriched]) -> list[dict[str, Any]]:
    """One document per paper: the highest version in the batch (the index would ignore the older anyway)."""
    best: dict[str, PaperEnriched] = {}
    for e in events:
        cur = best.get(e.paper.paper_id)
        if cur is None or e.paper.version > cur.paper.version:
            best[e.paper.paper_id] = e
    return [to_document(e) for e in best.values()]
