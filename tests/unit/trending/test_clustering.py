"""Clustering (paperwire_trending.clustering): themes, determinism, the NN-chain, micro-clusters."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from paperwire_trending.bursts import TrendParams
from paperwire_trending.clustering import ClusterParams, average_linkage, cluster_papers
from paperwire_trending.detection import detect

from .corpus import corpus, noise_papers, themes_of, unit


def test_clusters_follow_the_themes_and_drop_noise_and_small_groups() -> None:
    ps = corpus({"ts": 12, "proteins": 8, "robots": 3}) + noise_papers(20)
    cs = cluster_papers(ps, ClusterParams(min_size=4))
    assert [len(c.members) for c in cs] == [12, 8]  # biggest first; robots (3) below min_size; noise alone
    assert [themes_of(c.members) for c in cs] == [{"ts"}, {"proteins"}]
    assert all(0.6 < c.cohesion < 0.9 for c in cs)
    assert list(cs[0].members) == sorted(cs[0].members)


def test_same_topics_whatever_the_input_order() -> None:
    ps = corpus({"ts": 10, "proteins": 9, "robots": 6}) + noise_papers(15)
    want = cluster_papers(ps)
    rng = random.Random(3)
    for _ in range(5):
        shuffled = ps[:]
        rng.shuffle(shuffled)
        assert cluster_papers(shuffled) == want
        a = detect(shuffled, {}, set(), 5_000.0)
        b = detect(ps, {}, set(), 5_000.0)
        assert a == b


def test_average_linkage_matches_the_textbook_algorithm() -> None:
    """NN-chain over sums == naive 'merge the most similar pair while mean cross similarity >= cut'."""
    rng = np.random.default_rng(5)
    centers = [unit(rng.normal(size=16)) for _ in range(4)]
    x = np.asarray([unit(centers[i % 4] + rng.normal(scale=0.35, size=16)) for i in range(40)])
    for cut in (0.2, 0.4, 0.6):
        got = average_linkage(x.copy(), np.ones(len(x)), cut)
        groups = [[i] for i in range(len(x))]
        while True:
            best, pair = -math.inf, None
            for a in range(len(groups)):
                for b in range(a + 1, len(groups)):
                    s = float(np.mean(x[groups[a]] @ x[groups[b]].T))
                    if s > best:
                        best, pair = s, (a, b)
            if pair is None or best < cut:
                break
            a, b = pair
            groups[a] = sorted(groups[a] + groups[b])
            del groups[b]
        assert sorted(map(sorted, got)) == sorted(groups), cut


def test_micro_clusters_for_large_corpora_keep_the_themes_apart() -> None:
    ps = corpus({"ts": 30, "proteins": 25, "robots": 20}, noise=0.02)
    exact = cluster_papers(ps)
    fast = cluster_papers(ps, ClusterParams(max_exact=10))
    assert [c.members for c in fast] == [c.members for c in exact]


def test_params_are_checked() -> None:
    with pytest.raises(ValueError):
        ClusterParams(distance_threshold=0)
    with pytest.raises(ValueError):
        ClusterParams(min_size=1)
    with pytest.raises(ValueError):
        TrendParams(baseline_windows=3, min_history_windows=4)
