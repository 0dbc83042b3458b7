"""The stored sums are rebased before 2^((ts − T0)/H) could overflow float64; scores must not notice."""

from __future__ import annotations

import math
import random
from collections import defaultdict

import pytest

from paperwire_common.trends import EmbeddedTrendStore
from paperwire_trending.handlers import naive_score

from .feed import D, Feed, H, T

WEIGHTS = {"view": 1.0, "download": 2.0, "mention": 3.0, "comment": 2.0}


def test_without_rebasing_five_years_of_a_24h_half_life_overflow() -> None:
    with pytest.raises(OverflowError):
        2.0 ** (5 * 365)  # (ts − T0)/H for ts five years after a fixed T0, H = 1 day


def _count_rebases(store: EmbeddedTrendStore) -> list[tuple[str, float]]:
    calls: list[tuple[str, float]] = []
    inner = store.rebase

    def spy(window: str, new_t0: float) -> None:
        calls.append((window, new_t0))
        inner(window, new_t0)

    store.rebase = spy  # type: ignore[method-assign]
    return calls


@pytest.mark.parametrize("max_exponent", [512.0, 2.0])
async def test_five_simulated_years_match_the_naive_formula(max_exponent: float) -> None:
    """A paper a day for five years, engagement every few hours, the clock following the stream; after every
    simulated week (one batch) the top papers' scores must equal the naive sum to 1e-9."""
    f = Feed(now=T, max_exponent=max_exponent)
    rebases = _count_rebases(f.store)
    rng = random.Random(42)
    terms: dict[str, list[tuple[float, float]]] = defaultdict(list)  # paper -> (weight, ts), prior included
    batch = []
    for d in range(5 * 365):
        day = T + d * D
        pid = f"p:{d}"
        batch.append(f.paper(pid, day))
        terms[pid].append((5.0, day))
        for k in range(6):
            etype = rng.choice(list(WEIGHTS))
            target = f"p:{max(0, d - rng.randrange(0, 4))}"
            ts = day + k * 4 * H + rng.uniform(0, 3 * H)
            batch.append(f.eng(etype, target, ts, actor=f"a{d}-{k}"))
            terms[target].append((WEIGHTS[etype], ts))
        if d % 7 == 6 or d == 5 * 365 - 1:
            f.clock.t = day + D
            assert await f.run(*batch) == []
            batch = []
            now = f.clock.now()
            for w, hl in f.settings.half_lives().items():
                for p, s in await f.store.top(w, None, 10, now):
                    assert math.isclose(s, naive_score(terms[p], now, hl), rel_tol=1e-9), (w, p, d)
    assert len([r for r in rebases if r[0] == "24h"]) >= (3 if max_exponent == 512.0 else 100)
    # the whole ranking, not only the top: every paper of the last year, in every window
    now = f.clock.now()
    for w, hl in f.settings.half_lives().items():
        top = await f.store.top(w, None, 400, now)
        for p, s in top:
            assert math.isclose(s, naive_score(terms[p], now, hl), rel_tol=1e-9, abs_tol=1e-300), (w, p)
        want = sorted(((naive_score(t, now, hl), p) for p, t in terms.items()), reverse=True)[:20]
        assert [p for p, _ in top[:20]] == [p for _, p in want]


async def test_an_unvote_after_a_rebase_removes_the_upvote_as_it_stands_now() -> None:
    f = Feed(now=T, max_exponent=2.0)
    rebases = _count_rebases(f.store)
    await f.run(f.paper("p:a", T), f.eng("upvote", "p:a", T, "ann"), f.eng("upvote", "p:a", T, "bob"))
    f.clock.t = T + 10 * D
    await f.run(f.eng("view", "p:a", T + 10 * D, "cat"))  # moves T0 by 10 days: a rebase
    assert rebases
    await f.run(f.eng("unvote", "p:a", T + 10 * D, "ann"))
    now = T + 10 * D
    want = naive_score([(5.0, T), (5.0, T), (1.0, now)], now, D)  # prior, bob, cat's view
    assert math.isclose(await f.score("p:a"), want, rel_tol=1e-9)
