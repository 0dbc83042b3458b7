"""Burst statistics (paperwire_trending.bursts): z-score, lift, history."""

from __future__ import annotations

import math

import numpy as np
import pytest

from paperwire_trending.bursts import TrendParams, burst

from .corpus import NOW, W, arrivals


def test_burst_z_score_and_lift() -> None:
    params = TrendParams(window_s=W, baseline_windows=7, min_history_windows=3, min_recent=3)
    topic = arrivals([1] * 7, 6)
    others = arrivals([10] * 7, 10, offset=0.5)
    t = burst(topic, topic + others, NOW, params)
    assert t.window == 100 and t.recent == 6 and t.history == 7
    assert t.arrivals == [1, 1, 1, 1, 1, 1, 1, 6]
    assert (t.baseline, t.std) == (1.0, 0.0)
    assert t.z == 5.0  # (6 − 1) / max(0, √1, 1)
    assert t.lift == pytest.approx((6 / 16) / (7 / 77))
    assert t.bursting

    varied = arrivals([2, 4, 2, 4, 2, 4, 2], 9)
    t = burst(varied, varied, NOW, params)
    mean, std = 20 / 7, float(np.std([2, 4, 2, 4, 2, 4, 2]))
    assert t.baseline == pytest.approx(mean, abs=1e-6) and t.std == pytest.approx(std, abs=1e-6)
    assert t.z == pytest.approx((9 - mean) / max(std, math.sqrt(mean), 1.0), abs=1e-6)


def test_no_burst_without_history_volume_or_lift() -> None:
    params = TrendParams(window_s=W, baseline_windows=7, min_history_windows=3, min_recent=3)
    # Everything arrived in the last window (a backfill, or the e2e test): no history, no trend.
    fresh = [NOW - 10.0] * 20
    t = burst(fresh, fresh, NOW, params)
    assert (t.recent, t.history, t.bursting) == (20, 0, False)
    # Only 2 windows of history: too young to have a baseline.
    young = arrivals([0, 0, 0, 0, 0, 1, 1], 8)
    assert burst(young, young, NOW, params).history == 2
    assert not burst(young, young, NOW, params).bursting
    # A corpus-wide surge: the topic grows 6x, so does everything else: lift 1, not trending.
    topic = arrivals([1] * 7, 6)
    others = arrivals([10] * 7, 60, offset=0.5)
    t = burst(topic, topic + others, NOW, params)
    assert t.z == 5.0 and t.lift == pytest.approx(1.0) and not t.bursting
    # Too few papers, however unusual.
    quiet = arrivals([0, 0, 0, 0, 0, 0, 1], 2)
    assert not burst(quiet, quiet, NOW, params).bursting
    # Arrivals stamped after now are not counted.
    assert burst([NOW + 50.0], [NOW + 50.0], NOW, params).recent == 0
