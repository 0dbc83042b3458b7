"""The embedded trend store made durable: the in-memory store plus a snapshot in SQLite, rolled forward from the log.

The whole state — scores, breakdowns, dedupe state and the consumers' processed offsets, one object — is written
as one snapshot every `interval_s` while it changes, and at `close()` (Ctrl-C). At open the snapshot is loaded;
the trending consumer then resumes from the offsets in it (`Trending.resume_from_store`) and the durable bus
redelivers what was applied after it. That is exact, because the offsets and the scores come from the same
instant (`apply` never awaits), and replaying is idempotent (records below the stored offsets are skipped).

The snapshot is a cache of the log, never the only copy: one that cannot be used — another format version, other
half-lives, horizon or exponent bound, unreadable — is ignored, and the consumer replays both streams from their
beginnings. So a changed half-life rebuilds the embedded scores at the next start, and deleting `trends.sqlite`
rebuilds them too.

Taking a snapshot pickles the state on the event loop (it must not change meanwhile) and writes it on a thread.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import pickle
import sqlite3
import time
from collections.abc import Mapping, Sequence

from ..logging import get_logger
from .embedded import EmbeddedTrendStore, _State
from .port import MAX_EXPONENT, ApplyResult, ScoreUpdate

log = get_logger(__name__)
FORMAT = 2  # bump when _State changes shape: older snapshots are then ignored (and the log replayed)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshot (
    id INTEGER PRIMARY KEY CHECK (id = 1), format INTEGER NOT NULL, config TEXT NOT NULL, taken_at REAL NOT NULL,
    state BLOB NOT NULL);
"""


class SnapshotTrendStore(EmbeddedTrendStore):
    def __init__(
        self,
        half_lives: Mapping[str, float],
        path: str,
        *,
        horizon_s: float = 172_800.0,
        max_exponent: float = MAX_EXPONENT,
        interval_s: float = 30.0,
    ) -> None:
        super().__init__(half_lives, horizon_s=horizon_s, max_exponent=max_exponent)
        self.path, self.interval_s = path, interval_s
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = FULL")
        self.db.executescript(_SCHEMA)
        self._config = json.dumps(
            {"half_lives": self.half_lives, "horizon_s": horizon_s, "max_exponent": max_exponent}, sort_keys=True
        )
        self.loaded_from: float | None = None  # when the snapshot loaded at open was taken (None: none used)
        self._load()
        self._dirty = False
        self._taken = time.monotonic()
        self._writing: asyncio.Task[None] | None = None

    def _load(self) -> None:
        row = self.db.execute("SELECT format, config, taken_at, state FROM snapshot WHERE id = 1").fetchone()
        if row is None:
            return
        fmt, config, taken_at, blob = row
        why = None
        if fmt != FORMAT:
            why = f"format {fmt}, this version reads {FORMAT}"
        elif config != self._config:
            why = f"taken with {config}, now {self._config}"
        else:
            try:
                fields = pickle.loads(blob)
                self._s = _State(**fields)
            except Exception as e:  # a damaged snapshot is no worse than none
                why = f"unreadable ({e!r})"
        if why:
            log.warning("trends.snapshot_ignored", path=self.path, reason=why, then="replaying the streams")
            self._s = _State()
            return
        self.loaded_from = taken_at
        log.info("trends.snapshot_loaded", path=self.path, taken_at=taken_at, papers=len(self._s.papers))

    async def apply(
        self,
        consumer: str,
        partition_offsets: Mapping[tuple[str, int], int],
        updates: Sequence[ScoreUpdate],
    ) -> ApplyResult:
        res = await super().apply(consumer, partition_offsets, updates)
        self._dirty = True
        if time.monotonic() - self._taken >= self.interval_s and (self._writing is None or self._writing.done()):
            self._writing = asyncio.create_task(self._snapshot())
        return res

    def _freeze(self) -> bytes:
        st = self._s
        return pickle.dumps({f.name: getattr(st, f.name) for f in dataclasses.fields(st)}, pickle.HIGHEST_PROTOCOL)

    def _write(self, blob: bytes, taken_at: float) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO snapshot (id, format, config, taken_at, state) VALUES (1, ?, ?, ?, ?)",
            (FORMAT, self._config, taken_at, blob),
        )

    async def _snapshot(self) -> None:
        self._taken = time.monotonic()
        self._dirty = False
        t0 = time.perf_counter()
        blob = self._freeze()  # on the loop: a consistent instant (no apply runs meanwhile)
        frozen = time.perf_counter() - t0
        try:
            await asyncio.to_thread(self._write, blob, time.time())
        except Exception as e:  # the log still has everything: the next snapshot (or a replay) covers it
            self._dirty = True
            log.error("trends.snapshot_failed", path=self.path, error=repr(e))
            return
        log.debug("trends.snapshot", bytes=len(blob), freeze_s=round(frozen, 4), s=round(time.perf_counter() - t0, 4))

    async def snapshot(self) -> None:
        """Write a snapshot now (waits for one in flight first)."""
        if self._writing is not None:
            await asyncio.gather(self._writing, return_exceptions=True)
        await self._snapshot()

    async def reset(self) -> None:
        await super().reset()
        if self._writing is not None:
            await asyncio.gather(self._writing, return_exceptions=True)
        self.db.execute("DELETE FROM snapshot")
        self._dirty = False

    async def close(self) -> None:
        if self._dirty:
            await self.snapshot()
        elif self._writing is not None:
            await asyncio.gather(self._writing, return_exceptions=True)
        self.db.close()
