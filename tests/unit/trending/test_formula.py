"""score_w(p, t) = Σ weight·2^(−(t − ts)/H_w) + prior·2^(−(t − ingested_at)/H_w), checked with values by hand."""

from __future__ import annotations

import math

from paperwire_trending.handlers import decayed, naive_score
from paperwire_trending.settings import TrendingSettings

from .feed import D, Feed, H, T


def test_decayed_and_naive_score_by_hand() -> None:
    assert decayed(5.0, T, T + D, D) == 2.5
    assert decayed(2.0, T, T + 3 * D, D) == 0.25
    assert decayed(3.0, T + D, T + D, D) == 3.0
    # 1·2^-1 + 5·2^-0.5, with 2^-0.5 = 0.7071067811865476
    assert math.isclose(naive_score([(1.0, T), (5.0, T + D / 2)], T + D, D), 4.035533905932738, rel_tol=1e-15)


async def test_every_type_at_whole_half_lives_is_exact() -> None:
    """Events whole days before `now`: in the 24h window every term is an exact binary fraction."""
    now = T + 3 * D
    f = Feed(now=now)
    assert await f.run(f.paper("p:a", T)) == []  # prior 5 at T: 5/8 after three days
    assert (
        await f.run(
            f.eng("download", "p:a", T + 1 * D),  # 2 · 1/4 = 0.5
            f.eng("upvote", "p:a", T + 2 * D),  # 5 · 1/2 = 2.5
            f.eng("mention", "p:a", T + 2 * D),  # 3 · 1/2 = 1.5
            f.eng("view", "p:a", T + 3 * D),  # 1
            f.eng("comment", "p:a", T + 3 * D),  # 2
        )
        == []
    )
    assert await f.score("p:a", "24h") == 0.625 + 0.5 + 2.5 + 1.5 + 1 + 2 == 8.125
    # 7d (H = 7 days): the same terms with exponents k/7, written out
    want_7d = 5 * 2 ** (-3 / 7) + 2 * 2 ** (-2 / 7) + 5 * 2 ** (-1 / 7) + 3 * 2 ** (-1 / 7) + 1 + 2
    assert math.isclose(await f.score("p:a", "7d"), want_7d, rel_tol=1e-12)
    want_30d = 5 * 2 ** (-3 / 30) + 2 * 2 ** (-2 / 30) + 5 * 2 ** (-1 / 30) + 3 * 2 ** (-1 / 30) + 1 + 2
    assert math.isclose(await f.score("p:a", "30d"), want_30d, rel_tol=1e-12)
    # the same paper later: everything halves once more per day in 24h
    assert await f.score("p:a", "24h", now=now + D) == 8.125 / 2


async def test_breakdown_explains_the_score() -> None:
    f = Feed(now=T + D)
    await f.run(f.paper("p:a", T), f.eng("upvote", "p:a", T + D, "ann"), f.eng("upvote", "p:a", T + D, "bob"))
    bd = (await f.store.breakdown("p:a", T + D))["24h"]
    assert (bd["prior"].count, bd["prior"].score) == (1, 2.5)
    assert (bd["upvote"].count, bd["upvote"].score) == (2, 10.0)
    assert set(bd) == {"prior", "upvote"}


async def test_star_contribution_is_velocity_from_snapshots() -> None:
    """Snapshots 10 (baseline), 25 (+15), 20 (a drop: nothing), 30 (+5 above the highest, 25)."""
    now = T + D
    f = Feed(now=now)
    await f.run(f.paper("p:a", T, []))
    await f.run(
        f.eng("star", "p:a", T, "github", stars=10),
        f.eng("star", "p:a", T + 6 * H, "github", stars=25),
        f.eng("star", "p:a", T + 12 * H, "github", stars=20),
        f.eng("star", "p:a", T + 18 * H, "github", stars=30),
    )
    want_star = 2 * 15 * 2 ** (-18 / 24) + 2 * 5 * 2 ** (-6 / 24)
    bd = (await f.store.breakdown("p:a", now))["24h"]
    assert bd["star"].count == 20
    assert math.isclose(bd["star"].score, want_star, rel_tol=1e-12)
    assert math.isclose(await f.score("p:a"), want_star + 2.5, rel_tol=1e-12)


async def test_weights_and_half_lives_come_from_settings() -> None:
    s = TrendingSettings(weight_view=0.5, half_life_24h_s=12 * H, prior_weight=0.0)
    f = Feed(s, now=T + D)
    await f.run(f.paper("p:a", T), f.eng("view", "p:a", T))
    # H = 12 h: a day is two half-lives, 0.5 · 1/4
    assert await f.score("p:a", "24h") == 0.125


class TestFreshnessPrior:
    async def test_a_new_paper_without_engagement_is_ranked(self) -> None:
        f = Feed(now=T + 6 * H)
        await f.run(f.paper("p:new", T + 6 * H), f.paper("p:old", T - 2 * D))
        await f.run(f.eng("view", "p:old", T, "a"), f.eng("view", "p:old", T, "b"))
        top = await f.store.top("24h", None, 10, T + 6 * H)
        # new: 5 (just ingested); old: 5·2^-2.25 + 2·2^-0.25
        assert [p for p, _ in top] == ["p:new", "p:old"]
        assert top[0][1] == 5.0
        assert math.isclose(top[1][1], 5 * 2**-2.25 + 2 * 2**-0.25, rel_tol=1e-12)

    async def test_the_prior_decays_from_ingested_at_not_from_arrival(self) -> None:
        f = Feed(now=T + 3 * D)
        await f.run(f.paper("p:a", T))  # enriched three days after ingestion (a backlog)
        assert await f.score("p:a") == 5 / 8

    async def test_the_prior_counts_once_per_paper(self) -> None:
        f = Feed(now=T)
        await f.run(f.paper("p:a", T, ["nlp"]), f.paper("p:a", T, ["nlp"]))
        await f.run(f.paper("p:a", T, ["nlp", "cv"], version=2))  # a new revision: topics move, no new prior
        assert await f.score("p:a") == 5.0
        assert (await f.store.breakdown("p:a", T))["24h"]["prior"].count == 1
        assert await f.store.top("24h", "cv", 5, T) == [("p:a", 5.0)]
