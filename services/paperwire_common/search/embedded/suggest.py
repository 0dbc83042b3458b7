"""Suggestions on the embedded index: index range scans over the word-suffixes of titles, topics and methods."""

from __future__ import annotations

from ...sqlite import select_in
from ..document import SuggestKind, suggest_prefix, suggest_rank
from ..port import Suggestion
from .store import Store


def suggest(store: Store, prefix: str, size: int) -> list[Suggestion]:
    db = store.db
    p = suggest_prefix(prefix)
    if not p or size <= 0:
        return []
    bounds = (p, p + "\U0010ffff")
    found: list[tuple[tuple[int, int, int, str], Suggestion]] = []
    seen: set[tuple[str, str]] = set()
    # Titles: walk word positions in order, each an index range scan, until `size` distinct titles.
    max_pos = db.execute("SELECT max(pos) FROM suggest_titles").fetchone()[0]
    rids: set[int] = set()
    titles = 0
    for pos in range((max_pos if max_pos is not None else -1) + 1):
        if titles >= size:
            break
        # The shortest matches at this position, from the covering primary key alone; then their titles.
        top = db.execute(
            "SELECT rid FROM suggest_titles WHERE pos = ? AND norm >= ? AND norm < ? ORDER BY len, rid LIMIT ?",
            (pos, *bounds, 2 * size + len(rids)),
        ).fetchall()
        named = {
            r: (pid, title)
            for r, pid, title in select_in(
                db, "SELECT rid, id, title FROM docs WHERE rid IN ({in})", [r for (r,) in top]
            )
        }
        for (rid,) in top:
            pid, title = named[rid]
            if rid in rids or ("title", title.lower()) in seen:
                continue
            rids.add(rid)
            seen.add(("title", title.lower()))
            found.append((suggest_rank(pos, "title", title), Suggestion(title, "title", pid)))
            titles += 1
    kinds: tuple[SuggestKind, ...] = ("topic", "method")
    for kind in kinds:
        max_pos = db.execute("SELECT max(pos) FROM suggest_terms WHERE kind = ?", (kind,)).fetchone()[0]
        got = 0
        for pos in range((max_pos if max_pos is not None else -1) + 1):
            if got >= size:
                break
            rows = db.execute(
                "SELECT text FROM suggest_terms WHERE kind = ? AND pos = ? AND norm >= ? AND norm < ? "
                "ORDER BY length(text), text LIMIT ?",
                (kind, pos, *bounds, 2 * size),
            ).fetchall()
            for (text,) in rows:
                if (kind, text.lower()) not in seen:
                    seen.add((kind, text.lower()))
                    found.append((suggest_rank(pos, kind, text), Suggestion(text, kind)))
                    got += 1
    found.sort(key=lambda x: x[0])
    return [s for _, s in found[:size]]
