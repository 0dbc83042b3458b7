"""Trending settings (env prefix PAPERWIRE_TRENDING_): weights, half-lives, freshness prior, dedupe rules.

Changing a half-life changes the frame every stored score was built in: the store refuses to apply until it
has been rebuilt (reset + replay from the beginning of engagement.v1 and papers.enriched.v1). Weights and the
prior only affect events applied after the change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from paperwire_common.settings import ConsumerSettings
from paperwire_common.trends.port import MAX_WEIGHT

HOUR = 3600.0
DAY = 24 * HOUR

if TYPE_CHECKING:
    from .topic_job import TopicJobConfig


class TrendingSettings(ConsumerSettings):
    model_config = SettingsConfigDict(env_prefix="PAPERWIRE_TRENDING_", extra="ignore")

    # One Lua call per batch: big batches amortise the round trips (>= 20k events/s needs >= ~1000).
    batch_size: int = Field(2000, ge=1, le=10_000, description="records per polled batch (one store call)")

    half_life_24h_s: float = Field(DAY, gt=0, allow_inf_nan=False, description="half-life of window 24h (s)")
    half_life_7d_s: float = Field(7 * DAY, gt=0, allow_inf_nan=False, description="half-life of window 7d (s)")
    half_life_30d_s: float = Field(30 * DAY, gt=0, allow_inf_nan=False, description="half-life of window 30d (s)")

    weight_view: float = Field(
        1.0, ge=0, le=MAX_WEIGHT, allow_inf_nan=False, description="a view (once per actor, paper, bucket)"
    )
    weight_upvote: float = Field(
        5.0,
        ge=0,
        le=MAX_WEIGHT,
        allow_inf_nan=False,
        description="an upvote (once per actor and paper; unvote withdraws it)",
    )
    weight_download: float = Field(2.0, ge=0, le=MAX_WEIGHT, allow_inf_nan=False, description="a download")
    weight_star: float = Field(
        2.0,
        ge=0,
        le=MAX_WEIGHT,
        allow_inf_nan=False,
        description="per GitHub star gained above the highest earlier snapshot",
    )
    weight_mention: float = Field(
        3.0, ge=0, le=MAX_WEIGHT, allow_inf_nan=False, description="a mention (social, blog, ...)"
    )
    weight_comment: float = Field(2.0, ge=0, le=MAX_WEIGHT, allow_inf_nan=False, description="a comment")
    prior_weight: float = Field(
        5.0,
        ge=0,
        le=MAX_WEIGHT,
        allow_inf_nan=False,
        description="freshness prior, counted at ingested_at when a paper first appears on papers.enriched",
    )

    view_bucket_s: float = Field(
        DAY, gt=0, allow_inf_nan=False, description="a view counts once per actor per paper per UTC bucket"
    )
    dedupe_horizon_s: float = Field(
        2 * DAY,
        gt=0,
        allow_inf_nan=False,
        description="event ids and view keys are kept this long behind the partition's newest event time; "
        "an older event is dead-lettered (it could not be deduplicated)",
    )
    max_future_s: float = Field(
        300.0, ge=0, allow_inf_nan=False, description="dead-letter events stamped further ahead of the clock"
    )

    snapshot_interval_s: float = Field(
        30.0,
        gt=0,
        allow_inf_nan=False,
        description="embedded store: seconds between snapshots to the data dir (a restart replays what came after)",
    )

    # Topics: the periodic re-clustering job (paperwire_trending.topic_job; method in paperwire_trending.topics).
    topics_enabled: bool = Field(
        True, description="run the topic job (re-clustering, topics.v1 events) in this service"
    )
    topics_interval_s: float = Field(
        900.0, gt=0, allow_inf_nan=False, description="seconds between two re-clusterings of the whole index"
    )
    topics_initial_delay_s: float = Field(
        60.0, ge=0, allow_inf_nan=False, description="wait before the first re-clustering (lets a startup ingest land)"
    )
    topics_distance_threshold: float = Field(
        0.42,
        gt=0,
        lt=2,
        description="average-linkage cut on cosine distance: lower = tighter, fewer papers in topics",
    )
    topics_min_size: int = Field(4, ge=2, description="papers a cluster needs to be a topic")
    topics_max_exact: int = Field(
        3000,
        ge=2,
        le=20_000,
        description="papers clustered exactly (memory ~8·N² bytes); above, k-means micro-clusters first",
    )
    topics_min_jaccard: float = Field(
        0.3, gt=0, le=1, description="member overlap (Jaccard) for a new cluster to keep a previous topic's id"
    )
    topics_burst_window_s: float = Field(
        DAY, gt=0, allow_inf_nan=False, description="window of the burst test (arrivals by ingested_at)"
    )
    topics_baseline_windows: int = Field(7, ge=1, le=365, description="windows before it that form the baseline")
    topics_min_history_windows: int = Field(
        3, ge=1, description="baseline windows a topic must have lived through to trend (<= baseline windows)"
    )
    topics_burst_min_count: int = Field(3, ge=1, description="arrivals in the window a topic needs to trend")
    topics_burst_z: float = Field(
        3.0, gt=0, allow_inf_nan=False, description="z-score of the window's arrivals against the baseline to trend"
    )
    topics_burst_min_lift: float = Field(
        1.5,
        ge=0,
        allow_inf_nan=False,
        description="growth of the topic's share of all arrivals needed to trend (ignores corpus-wide surges)",
    )
    topics_emitted_retention_s: float = Field(
        90 * DAY, gt=0, allow_inf_nan=False, description="how long emitted topic event ids are remembered"
    )

    @model_validator(mode="after")
    def _history_fits_baseline(self) -> Self:
        if self.topics_min_history_windows > self.topics_baseline_windows:
            raise ValueError("topics_min_history_windows must be <= topics_baseline_windows")
        return self

    def topic_job_config(self) -> TopicJobConfig:
        from .topic_job import TopicJobConfig
        from .topics import ClusterParams, TrendParams

        return TopicJobConfig(
            cluster=ClusterParams(
                distance_threshold=self.topics_distance_threshold,
                min_size=self.topics_min_size,
                max_exact=self.topics_max_exact,
            ),
            trend=TrendParams(
                window_s=self.topics_burst_window_s,
                baseline_windows=self.topics_baseline_windows,
                min_history_windows=self.topics_min_history_windows,
                min_recent=self.topics_burst_min_count,
                z_threshold=self.topics_burst_z,
                min_lift=self.topics_burst_min_lift,
            ),
            min_jaccard=self.topics_min_jaccard,
        )

    def half_lives(self) -> dict[str, float]:
        """Window name -> half-life (s), in the order the store iterates them."""
        return {"24h": self.half_life_24h_s, "7d": self.half_life_7d_s, "30d": self.half_life_30d_s}

    def weight(self, etype: str) -> float:
        """The weight of a breakdown's event type ("prior" included; "star" is per star gained)."""
        return self.prior_weight if etype == "prior" else float(getattr(self, f"weight_{etype}"))
