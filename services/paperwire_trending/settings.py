"""Trending settings (env prefix PAPERWIRE_TRENDING_): weights, half-lives, freshness prior, dedupe rules.

Changing a half-life changes the frame every stored score was built in: the store refuses to apply until it
has been rebuilt (reset + replay from the beginning of engagement.v1 and papers.enriched.v1). Weights and the
prior only affect events applied after the change.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from paperwire_common.settings import ConsumerSettings

HOUR = 3600.0
DAY = 24 * HOUR


class TrendingSettings(ConsumerSettings):
    model_config = SettingsConfigDict(env_prefix="PAPERWIRE_TRENDING_", extra="ignore")

    # One Lua call per batch: big batches amortise the round trips (>= 20k events/s needs >= ~1000).
    batch_size: int = Field(2000, ge=1, le=10_000, description="records per polled batch (one store call)")

    half_life_24h_s: float = Field(DAY, gt=0, allow_inf_nan=False, description="half-life of window 24h (s)")
    half_life_7d_s: float = Field(7 * DAY, gt=0, allow_inf_nan=False, description="half-life of window 7d (s)")
    half_life_30d_s: float = Field(30 * DAY, gt=0, allow_inf_nan=False, description="half-life of window 30d (s)")

    weight_view: float = Field(1.0, ge=0, allow_inf_nan=False, description="a view (once per actor, paper, bucket)")
    weight_upvote: float = Field(
        5.0,
        ge=0,
        allow_inf_nan=False,
        description="an upvote (once per actor and paper; unvote withdraws it)",
    )
    weight_download: float = Field(2.0, ge=0, allow_inf_nan=False, description="a download")
    weight_star: float = Field(
        2.0,
        ge=0,
        allow_inf_nan=False,
        description="per GitHub star gained above the highest earlier snapshot",
    )
    weight_mention: float = Field(3.0, ge=0, allow_inf_nan=False, description="a mention (social, blog, ...)")
    weight_comment: float = Field(2.0, ge=0, allow_inf_nan=False, description="a comment")
    prior_weight: float = Field(
        5.0,
        ge=0,
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

    def half_lives(self) -> dict[str, float]:
        """Window name -> half-life (s), in the order the store iterates them."""
        return {"24h": self.half_life_24h_s, "7d": self.half_life_7d_s, "30d": self.half_life_30d_s}

    def weight(self, etype: str) -> float:
        """The weight of a breakdown's event type ("prior" included; "star" is per star gained)."""
        return self.prior_weight if etype == "prior" else float(getattr(self, f"weight_{etype}"))
