"""Dedupe rules: event id, upvote per actor, unvote, view per actor per paper per UTC day, offset replays."""

from __future__ import annotations

import math

from .feed import D, Feed, H, T


async def _announced(now: float = T + D) -> Feed:
    f = Feed(now=now)
    await f.run(f.paper("p:a", T - 30 * D))  # prior ~0 by now: 5·2^-31 in 24h
    return f


PRIOR = 5 * 2.0**-31  # the prior of p:a at T + D in the 24h window


async def test_the_same_event_id_counts_once_even_at_another_offset() -> None:
    f = await _announced()
    await f.run(f.eng("download", "p:a", T + D, id="dup"), f.eng("download", "p:a", T + D, id="dup"))
    await f.run(f.eng("download", "p:a", T + D, id="dup"))  # a later redelivery, in another batch
    assert await f.score("p:a") == 2.0 + PRIOR
    assert (await f.store.breakdown("p:a", T + D))["24h"]["download"].count == 1


async def test_an_upvote_counts_once_per_actor() -> None:
    f = await _announced()
    await f.run(f.eng("upvote", "p:a", T + D, "ann"), f.eng("upvote", "p:a", T + D, "ann"))
    await f.run(f.eng("upvote", "p:a", T + D, "ann"))
    assert await f.score("p:a") == 5.0 + PRIOR
    await f.run(f.eng("upvote", "p:a", T + D, "bob"))
    assert await f.score("p:a") == 10.0 + PRIOR


async def test_unvote_withdraws_exactly_that_upvote() -> None:
    f = await _announced(now=T + 2 * D)
    await f.run(f.eng("upvote", "p:a", T, "ann"), f.eng("upvote", "p:a", T + D, "bob"))
    await f.run(f.eng("unvote", "p:a", T + 2 * D, "ann"))  # ann's term (5 at T) goes, whatever the unvote's ts
    prior = 5 * 2.0**-32
    assert await f.score("p:a") == 5 / 2 + prior
    assert (await f.store.breakdown("p:a", T + 2 * D))["24h"]["upvote"].count == 1
    await f.run(f.eng("unvote", "p:a", T + 2 * D, "cat"))  # cat never upvoted: nothing
    await f.run(f.eng("unvote", "p:a", T + 2 * D, "ann"))  # already withdrawn: nothing
    assert await f.score("p:a") == 5 / 2 + prior
    await f.run(f.eng("upvote", "p:a", T + 2 * D, "ann"))  # upvoting again counts, at its own time
    assert await f.score("p:a") == 5 / 2 + 5 + prior


async def test_a_view_counts_once_per_actor_per_paper_per_utc_day() -> None:
    f = Feed(now=T + 2 * D)
    await f.run(f.paper("p:a", T - 40 * D), f.paper("p:b", T - 40 * D))
    await f.run(
        f.eng("view", "p:a", T + 1 * H, "ann"),
        f.eng("view", "p:a", T + 23 * H, "ann"),  # same day: no
        f.eng("view", "p:a", T + 23 * H, "bob"),  # another actor: yes
        f.eng("view", "p:b", T + 23 * H, "ann"),  # another paper: yes
        f.eng("view", "p:a", T + D + 1, "ann"),  # the next UTC day: yes
    )
    bd = (await f.store.breakdown("p:a", T + 2 * D))["24h"]
    assert bd["view"].count == 3
    want = 2 ** (-(2 * D - 1 * H) / D) + 2 ** (-(2 * D - 23 * H) / D) + 2 ** (-(D - 1) / D)
    assert math.isclose(bd["view"].score, want, rel_tol=1e-12)
    assert (await f.store.breakdown("p:b", T + 2 * D))["24h"]["view"].count == 1


async def test_a_replayed_batch_changes_nothing() -> None:
    f = await _announced()
    batch = [f.eng("view", "p:a", T + D, "ann"), f.eng("upvote", "p:a", T + D, "bob")]
    await f.run(*batch)
    before = await f.store.breakdown("p:a", T + D)
    assert await f.run(*batch) == []  # e.g. redelivered after a crash before the Kafka commit
    assert await f.store.breakdown("p:a", T + D) == before
