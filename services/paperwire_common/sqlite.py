"""SQLite helpers shared by the embedded adapters."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

# Below SQLite's default limit of bound variables per statement (999 on older builds).
IN_CHUNK = 500


def select_in(db: sqlite3.Connection, sql: str, ids: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
    """Rows of `sql`, whose `{in}` stands for the placeholder list of an IN clause, for every id in chunks."""
    ids = list(ids)
    for i in range(0, len(ids), IN_CHUNK):
        chunk = ids[i : i + IN_CHUNK]
        yield from db.execute(sql.format(**{"in": ",".join("?" * len(chunk))}), chunk)
