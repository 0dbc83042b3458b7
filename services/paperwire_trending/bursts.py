"""Bursts: a topic's arrivals in the trailing window against its own baseline and the corpus's (pure logic).

A topic bursts (detection.py then emits `topic.trending`) by its arrivals (members by `ingested_at`) in the
trailing window (now − W, now] against the `baseline_windows` windows before it, counting only windows the
topic was alive in (its first arrival at or before the window's end; at least `min_history_windows` of them):

    z    = (recent − mean) / max(std, √mean, 1)        (√mean: Poisson noise floor; 1: no division by ~0)
    lift = (recent / corpus recent) / (topic baseline / corpus baseline)

and it trends when recent >= `min_recent`, z >= `z_threshold` and lift >= `min_lift` — the lift keeps a
corpus-wide surge (a backfill, a catch-up after downtime) from making every topic "trend". Arrival time
is `ingested_at`: a bulk backfill lands in one window, so it gives topics no history rather than bursts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from paperwire_common.topics.model import Trend

__all__ = ["Trend", "TrendParams", "burst", "burst_of", "finite_sorted", "window_counts", "window_edges"]


@dataclass(frozen=True)
class TrendParams:
    window_s: float = 86_400.0
    baseline_windows: int = 7
    min_history_windows: int = 3
    min_recent: int = 3
    z_threshold: float = 3.0
    min_lift: float = 1.5

    def __post_init__(self) -> None:
        if not (self.window_s > 0 and math.isfinite(self.window_s)):
            raise ValueError("window_s must be positive and finite")
        if self.baseline_windows < 1 or not 1 <= self.min_history_windows <= self.baseline_windows:
            raise ValueError("need 1 <= min_history_windows <= baseline_windows")


def window_counts(times: npt.NDArray[np.float64], edges: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Counts in the half-open windows (edges[i], edges[i+1]] of sorted times."""
    pos = np.searchsorted(times, edges, side="right")
    return np.diff(pos).astype(np.int64)


def window_edges(now: float, params: TrendParams) -> npt.NDArray[np.float64]:
    """k+2 window edges, oldest first: k baseline windows, then the recent one ending at now."""
    return now - params.window_s * np.arange(params.baseline_windows + 1, -1, -1, dtype=np.float64)


def finite_sorted(times: Iterable[float]) -> npt.NDArray[np.float64]:
    return np.sort(np.asarray([x for x in times if math.isfinite(x)], dtype=np.float64))


def burst(
    member_times: Iterable[float], corpus_times: Iterable[float], now: float, params: TrendParams = TrendParams()
) -> Trend:
    """Trend statistics of one topic (its members' arrival times) against the whole corpus's arrivals."""
    edges = window_edges(now, params)
    return burst_of(finite_sorted(member_times), window_counts(finite_sorted(corpus_times), edges), now, params)


def burst_of(t: npt.NDArray[np.float64], corpus: npt.NDArray[np.int64], now: float, params: TrendParams) -> Trend:
    """burst() on sorted member times and the corpus's per-window counts (computed once per run)."""
    edges = window_edges(now, params)
    counts = window_counts(t, edges)
    recent = int(counts[-1])
    first = float(t[0]) if len(t) else math.inf
    ends = edges[1:-1]  # end of each baseline window, oldest first
    observed = first <= ends
    history = int(observed.sum())
    base = counts[:-1][observed].astype(np.float64)
    mean = float(base.mean()) if history else 0.0
    std = float(base.std()) if history else 0.0
    z = (recent - mean) / max(std, math.sqrt(mean), 1.0)
    base_sum, corpus_base = float(base.sum()), float(corpus[:-1][observed].sum())
    lift: float | None = None
    if base_sum > 0 and corpus_base > 0 and corpus[-1] > 0:
        lift = (recent / float(corpus[-1])) / (base_sum / corpus_base)
    bursting = (
        history >= params.min_history_windows
        and recent >= params.min_recent
        and z >= params.z_threshold
        and (lift is None or lift >= params.min_lift)
    )
    return Trend(
        window=math.floor(now / params.window_s),
        recent=recent,
        baseline=round(mean, 6),
        std=round(std, 6),
        z=round(z, 6),
        lift=None if lift is None else round(lift, 6),
        history=history,
        arrivals=[int(c) for c in counts],
        bursting=bursting,
    )
