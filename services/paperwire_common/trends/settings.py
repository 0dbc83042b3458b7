"""What the trend store and its readers need of the trending settings: half-lives, weights (bounded by the
store's MAX_WEIGHT), dedupe horizon, the embedded store's snapshot interval.

Env prefix PAPERWIRE_TRENDING_ (the trending service's own: `paperwire_trending.settings.TrendingSettings`
extends this class), so the gateway, `make_backends` and the scorer read the same values.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .port import MAX_WEIGHT

HOUR = 3600.0
DAY = 24 * HOUR


class TrendSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAPERWIRE_TRENDING_", extra="ignore")

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
    dedupe_horizon_s: float = Field(
        2 * DAY,
        gt=0,
        allow_inf_nan=False,
        description="event ids and view keys are kept this long behind the partition's newest event time; "
        "an older event is dead-lettered (it could not be deduplicated)",
    )

    snapshot_interval_s: float = Field(
        30.0,
        gt=0,
        allow_inf_nan=False,
        description="embedded store: seconds between snapshots to the data dir (a restart replays what came after)",
    )

    def half_lives(self) -> dict[str, float]:
        """Window name -> half-life (s), in the order the store iterates them."""
        return {"24h": self.half_life_24h_s, "7d": self.half_life_7d_s, "30d": self.half_life_30d_s}

    def weight(self, etype: str) -> float:
        """The weight of a breakdown's event type ("prior" included; "star" is per star gained)."""
        return self.prior_weight if etype == "prior" else float(getattr(self, f"weight_{etype}"))
