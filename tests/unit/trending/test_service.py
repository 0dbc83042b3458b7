"""Trending service: what is refused (dead-lettered) and why, held engagement, the consumer loop, crash replay."""

from __future__ import annotations

import asyncio
import copy
import math
from typing import Any

import pytest
from pydantic import BaseModel

from paperwire_common.consumer import ConsumerLoop
from paperwire_common.envelope import Decoded, encode
from paperwire_common.events import Engagement
from paperwire_common.streams import ENGAGEMENT, PAPERS_ENRICHED
from paperwire_common.trends import EmbeddedTrendStore
from paperwire_trending.service import Trending
from paperwire_trending.settings import TrendingSettings

from .feed import D, Feed, H, T, embedded_backends


def _reasons(failures: list[tuple[Decoded[BaseModel], str]]) -> list[str]:
    return [why for _, why in failures]


class TestRefused:
    async def test_a_timestamp_more_than_five_minutes_ahead_is_dead_lettered(self) -> None:
        f = Feed(now=T)
        await f.run(f.paper("p:a", T))
        ok, ahead = f.eng("view", "p:a", T + 300.0, "ann"), f.eng("view", "p:a", T + 301.0, "bob")
        failures = await f.run(ok, ahead)
        assert [d for d, _ in failures] == [ahead]
        assert "ahead of the clock" in failures[0][1]
        assert (await f.store.breakdown("p:a", T + 300))["24h"]["view"].count == 1

    async def test_a_paper_ingested_in_the_future_is_dead_lettered(self) -> None:
        f = Feed(now=T)
        failures = await f.run(f.paper("p:a", T + D))
        assert "paper.ingested_at" in _reasons(failures)[0]
        assert await f.store.top("24h", None, 5, T) == []

    async def test_non_finite_times_and_reserved_characters_are_dead_lettered(self) -> None:
        f = Feed(now=T)
        await f.run(f.paper("p:a", T))
        nan = f.eng("view", "p:a", float("nan"))
        sep = f.eng("view", "p:a", T, actor="x\x1fy")
        star = f.eng("star", "p:a", T)  # a star event without its snapshot
        reasons = _reasons(await f.run(nan, sep, star))
        assert ["not a finite number" in reasons[0], "reserved" in reasons[1], "snapshot" in reasons[2]] == [True] * 3
        assert set((await f.store.breakdown("p:a", T))["24h"]) == {"prior"}

    async def test_star_snapshots_the_store_could_not_score_are_dead_lettered_and_later_ones_count(self) -> None:
        """Issue 14: 0 then 10^308 made a score infinite; 10^309 failed the batch half-written (OverflowError)
        and its retry skipped the event. Now both are dead-lettered with the reason and the paper scores on."""
        f = Feed(now=T)
        await f.run(f.paper("p:a", T))
        base, huge = f.eng("star", "p:a", T, stars=0), f.eng("star", "p:a", T, stars=10**308)
        huger = f.eng("star", "p:a", T, stars=10**309)
        later = f.eng("star", "p:a", T, stars=7)
        failures = await f.run(base, huge, huger, later)
        assert [d for d, _ in failures] == [huge, huger]
        assert all("above the maximum 1000000000" in why for why in _reasons(failures))
        bd = (await f.store.breakdown("p:a", T))["24h"]
        assert bd["star"].count == 7 and bd["star"].score == 14.0
        assert await f.store.top("24h", None, 5, T) == [("p:a", 5.0 + 14.0)]

    async def test_an_event_older_than_the_dedupe_horizon_is_dead_lettered(self) -> None:
        f = Feed(now=T + 10 * D)
        await f.run(f.paper("p:a", T))
        await f.run(f.eng("view", "p:a", T + 10 * D))
        old = f.eng("download", "p:a", T + 7 * D)  # 3 days behind its partition's newest event (> 2 days)
        fine = f.eng("download", "p:a", T + 9 * D)
        failures = await f.run(old, fine)
        assert [d for d, _ in failures] == [old]
        assert "dedupe horizon" in failures[0][1]
        assert (await f.store.breakdown("p:a", T + 10 * D))["24h"]["download"].count == 1


async def test_engagement_for_an_unknown_paper_is_held_until_it_is_announced() -> None:
    f = Feed(now=T + D)
    assert await f.run(f.eng("upvote", "p:soon", T + D, "ann")) == []
    assert await f.store.top("24h", None, 5, T + D) == []
    assert await f.run(f.paper("p:soon", T + D, ["nlp"])) == []
    assert await f.store.top("24h", "nlp", 5, T + D) == [("p:soon", 10.0)]


async def test_default_store_is_embedded_and_shared_by_the_backends() -> None:
    b = embedded_backends()
    one, two = Trending(b, TrendingSettings()), Trending(b, TrendingSettings())
    assert isinstance(one.store, EmbeddedTrendStore) and one.store is two.store is b.trends
    assert one.group == "paperwire-trending"
    assert Trending(b, TrendingSettings(group="g2")).group == "g2"


# ------------------------------------------------------------------------------------------- through the bus
def _publishable(events: list[tuple[Any, str]]) -> list[Any]:
    out = []
    for i, (ev, key) in enumerate(events):
        spec = ENGAGEMENT if isinstance(ev, Engagement) else PAPERS_ENRICHED
        out.append(encode(spec, ev, key=key, event_id=f"ce-{i}", source="test", time=T))
    return out


async def _drain(loop: ConsumerLoop) -> None:
    await loop.consumer.start()
    while await loop.run_once():
        pass


async def _stream(f: Feed) -> list[Any]:
    evs: list[tuple[Any, str]] = []
    for i in range(30):
        pid = f"arxiv:2601.{i:05d}"
        evs.append((f.paper(pid, T - i * H, [f"t{i % 3}"]).event, pid))
        for k in range(i % 7):
            evs.append((f.eng("view", pid, T - k * H, actor=f"a{k}").event, pid))
            evs.append((f.eng("upvote", pid, T - k * H, actor=f"a{k % 2}").event, pid))
    evs.append((f.eng("view", "arxiv:2601.00001", T + D).event, "arxiv:2601.00001"))  # from the future
    return _publishable(evs)


async def test_the_loop_consumes_both_topics_and_dead_letters_with_the_reason() -> None:
    f = Feed(now=T)
    b = embedded_backends()
    await b.start()
    svc = Trending(b, TrendingSettings(batch_size=50), f.clock)
    await b.bus.publish(await _stream(f))
    await _drain(svc.loop())
    dlq = b.bus.records(ENGAGEMENT.dlq)  # type: ignore[attr-defined]
    assert len(dlq) == 1 and "ahead of the clock" in (dlq[0].header("dlq_reason") or "")
    top = await svc.store.top("24h", None, 50, T)
    assert len(top) == 30 and top[0][0] == "arxiv:2601.00006"
    assert [p for p, _ in await svc.store.top("24h", "t0", 50, T)] == [p for p, _ in top if int(p[-5:]) % 3 == 0]
    # the store's offsets are what the group committed
    assert await svc.store.offsets(svc.group) == b.bus.committed[svc.group]  # type: ignore[attr-defined]


async def test_a_crash_between_the_store_write_and_the_commit_changes_nothing() -> None:
    f = Feed(now=T)
    events = await _stream(f)

    clean = embedded_backends()
    await clean.start()
    want = Trending(clean, TrendingSettings(batch_size=40), f.clock)
    await clean.bus.publish(events)
    await _drain(want.loop())

    b = embedded_backends()
    await b.start()
    svc = Trending(b, TrendingSettings(batch_size=40), f.clock)
    await b.bus.publish(events)
    loop = svc.loop()
    await loop.consumer.start()
    assert await loop.run_once()

    async def crash(offsets: Any) -> None:
        raise RuntimeError("killed before the commit")

    loop.consumer.commit = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await loop.run_once()  # scores and store offsets written, the bus commit lost
    await loop.consumer.stop()
    restarted = Trending(b, TrendingSettings(batch_size=40), f.clock)  # same backends: same store
    await _drain(restarted.loop())  # the lost batch comes again: skipped by offset
    for w in ("24h", "7d", "30d"):
        got, exp = await restarted.store.top(w, None, 50, T), await want.store.top(w, None, 50, T)
        assert [p for p, _ in got] == [p for p, _ in exp]
        # other batch boundaries after the crash (the bus rotates partitions): the same sums to a few ulps
        assert all(math.isclose(a, b, rel_tol=1e-12) for (_, a), (_, b) in zip(got, exp, strict=True))


async def test_a_store_that_lost_writes_is_rolled_forward_from_its_own_offsets() -> None:
    """The bus's commits are ahead of a store that lost its newest writes (the embedded store restored from an
    older snapshot, Redis from an older RDB file): at start the loop goes back to the store's offsets."""
    f = Feed(now=T)
    events = await _stream(f)
    b = embedded_backends()
    await b.start()
    svc = Trending(b, TrendingSettings(batch_size=40), f.clock)
    await b.bus.publish(events[: len(events) // 2])
    await _drain(first := svc.loop())
    older = EmbeddedTrendStore(svc.settings.half_lives(), horizon_s=svc.settings.dedupe_horizon_s)
    older._s = copy.deepcopy(svc.store._s)  # type: ignore[attr-defined]  # the "snapshot"
    await b.bus.publish(events[len(events) // 2 :])
    while await first.run_once():
        pass
    await first.consumer.stop()
    want = {w: await svc.store.top(w, None, 50, T) for w in ("24h", "7d", "30d")}

    restarted = Trending(b, svc.settings, f.clock, older)  # same bus and commits, the older store
    loop = restarted.loop()
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    while not loop.started or await loop.consumer.lag():
        await asyncio.sleep(0.01)
    stop.set()
    await task
    for w, exp in want.items():
        got = await older.top(w, None, 50, T)
        assert [p for p, _ in got] == [p for p, _ in exp]
        assert all(math.isclose(a, b, rel_tol=1e-12) for (_, a), (_, b) in zip(got, exp, strict=True))
    assert await older.offsets(restarted.group) == await svc.store.offsets(svc.group)
