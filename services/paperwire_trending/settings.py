"""Trending settings (env prefix PAPERWIRE_TRENDING_): weights, half-lives, freshness prior, dedupe rules, the
topic job. What the stores and the read side need too (half-lives, weights, dedupe horizon, topic retention) is
declared in paperwire_common (trends/settings.py, topics/settings.py) and inherited here, under the same env vars.

Changing a half-life changes the frame every stored score was built in: the store refuses to apply until it
has been rebuilt (reset + replay from the beginning of engagement.v1 and papers.enriched.v1). Weights and the
prior only affect events applied after the change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from paperwire_common.settings import ConsumerSettings
from paperwire_common.topics.settings import TopicStoreSettings
from paperwire_common.trends.settings import DAY, TrendSettings

if TYPE_CHECKING:
    from .topic_job import TopicJobConfig


class TrendingSettings(TopicStoreSettings, TrendSettings, ConsumerSettings):
    # Fields in the README order: the consumer's, then the stores' (scores, topics), then the scorer's and the job's.
    model_config = SettingsConfigDict(env_prefix="PAPERWIRE_TRENDING_", extra="ignore")

    # One Lua call per batch: big batches amortise the round trips (>= 20k events/s needs >= ~1000).
    batch_size: int = Field(2000, ge=1, le=10_000, description="records per polled batch (one store call)")

    view_bucket_s: float = Field(
        DAY, gt=0, allow_inf_nan=False, description="a view counts once per actor per paper per UTC bucket"
    )
    max_future_s: float = Field(
        300.0, ge=0, allow_inf_nan=False, description="dead-letter events stamped further ahead of the clock"
    )

    # Topics: the periodic re-clustering job (paperwire_trending.topic_job; method in clustering.py, labels.py,
    # bursts.py and detection.py).
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

    @model_validator(mode="after")
    def _history_fits_baseline(self) -> Self:
        if self.topics_min_history_windows > self.topics_baseline_windows:
            raise ValueError("topics_min_history_windows must be <= topics_baseline_windows")
        return self

    def topic_job_config(self) -> TopicJobConfig:
        from .bursts import TrendParams
        from .clustering import ClusterParams
        from .topic_job import TopicJobConfig

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
