"""Trend scores: the TrendStore port (port.py), its Redis and embedded adapters, the read side the gateway serves
(service.py) and the settings the stores and readers share (settings.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .embedded import EmbeddedTrendStore
from .port import MAX_EXPONENT, ApplyResult, Kind, ScoreUpdate, TrendStore, TypeBreakdown

__all__ = [
    "ApplyResult",
    "EmbeddedTrendStore",
    "Kind",
    "ScoreUpdate",
    "TrendStore",
    "TypeBreakdown",
    "make_trend_store",
]


def make_trend_store(
    redis: Any,
    half_lives: Mapping[str, float],
    *,
    horizon_s: float,
    max_exponent: float = MAX_EXPONENT,
    prefix: str = "paperwire:trend:{pw}",
    snapshot_path: str | None = None,
    snapshot_interval_s: float = 30.0,
) -> TrendStore:
    """Redis when a client is given (kafka backend), else in memory (embedded backend), made durable by a
    snapshot at `snapshot_path` when given (embedded with a data dir)."""
    if redis is None:
        if snapshot_path is not None:
            from .snapshot import SnapshotTrendStore

            return SnapshotTrendStore(
                half_lives,
                snapshot_path,
                horizon_s=horizon_s,
                max_exponent=max_exponent,
                interval_s=snapshot_interval_s,
            )
        return EmbeddedTrendStore(half_lives, horizon_s=horizon_s, max_exponent=max_exponent)
    from .redis import RedisTrendStore

    return RedisTrendStore(redis, half_lives, prefix=prefix, horizon_s=horizon_s, max_exponent=max_exponent)
