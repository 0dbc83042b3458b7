"""The embedded trend store's snapshot (trends/snapshot.py): what a restart loads, and when it loads nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from paperwire_common.trends import EmbeddedTrendStore
from paperwire_common.trends.snapshot import SnapshotTrendStore
from tests.contract.test_trend_store import CONSUMER, HL, HORIZON, PAPERS, TOPICS, T, apply, assert_same, scenario
from tests.contract.test_trend_store import snapshot as state_of

NOW = T + 45 * 86_400.0


def open_at(path: Path, **kw: float) -> SnapshotTrendStore:
    return SnapshotTrendStore(kw.pop("hl", None) or HL, str(path), horizon_s=HORIZON, **kw)  # type: ignore[arg-type]


async def test_close_then_open_gives_the_same_store(tmp_path: Path) -> None:
    store, ref = open_at(tmp_path / "t.sqlite"), EmbeddedTrendStore(HL, horizon_s=HORIZON)
    for b in scenario(5, n=1500):
        await apply(store, b)
        await apply(ref, b)
    await store.close()
    again = open_at(tmp_path / "t.sqlite")
    assert again.loaded_from is not None
    assert_same(await state_of(again, NOW, PAPERS, TOPICS), await state_of(ref, NOW, PAPERS, TOPICS))
    # and it goes on from there exactly as the store that never stopped
    more = scenario(6, n=200)
    for b in more:
        await apply(again, b)
        await apply(ref, b)
    assert_same(await state_of(again, NOW, PAPERS, TOPICS), await state_of(ref, NOW, PAPERS, TOPICS))
    await again.close()


async def test_without_close_a_restart_loads_the_last_periodic_snapshot(tmp_path: Path) -> None:
    """kill -9: no close. What a restart finds is a consistent earlier state, offsets and scores together."""
    store = open_at(tmp_path / "t.sqlite", interval_s=0.0)  # a snapshot after every apply
    batches = scenario(9, n=800)
    for b in batches[:-1]:
        await apply(store, b)
    assert store._writing is not None
    await store._writing
    periodic = open_at(tmp_path / "t.sqlite")  # what a kill now would find: taken without any close
    assert periodic.loaded_from is not None and await periodic.offsets(CONSUMER)
    periodic.db.close()
    await store.snapshot()  # pin the instant the test compares against
    taken = await state_of(store, NOW, PAPERS, TOPICS)
    store._writing = None  # killed: the write the next apply starts never happens
    store.interval_s = 1e9
    await apply(store, batches[-1])
    restarted = open_at(tmp_path / "t.sqlite")
    assert_same(await state_of(restarted, NOW, PAPERS, TOPICS), taken)
    # the consumer replays from the snapshot's offsets: the same end state as without the crash
    await apply(restarted, batches[-1])
    assert_same(await state_of(restarted, NOW, PAPERS, TOPICS), await state_of(store, NOW, PAPERS, TOPICS))


async def test_a_snapshot_of_other_half_lives_or_a_damaged_one_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    store = open_at(path)
    for b in scenario(3, n=300):
        await apply(store, b)
    await store.close()
    other = open_at(path, hl={**HL, "24h": 43_200.0})  # type: ignore[arg-type]
    assert other.loaded_from is None and await other.offsets(CONSUMER) == {}  # the consumer replays everything
    other.db.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE snapshot SET state = x'00ff'")
    db.commit()
    db.close()
    damaged = open_at(path)
    assert damaged.loaded_from is None and await damaged.top("24h", None, 5, NOW) == []


async def test_reset_forgets_the_snapshot_too(tmp_path: Path) -> None:
    store = open_at(tmp_path / "t.sqlite")
    for b in scenario(4, n=200):
        await apply(store, b)
    await store.snapshot()
    await store.reset()
    await store.close()
    assert await open_at(tmp_path / "t.sqlite").offsets(CONSUMER) == {}
