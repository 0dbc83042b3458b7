"""What the topic store needs of the trending settings (env prefix PAPERWIRE_TRENDING_, like the trending
service's own `TrendingSettings`, which extends this class)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .port import DEFAULT_RETENTION_S


class TopicStoreSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAPERWIRE_TRENDING_", extra="ignore")

    topics_emitted_retention_s: float = Field(
        DEFAULT_RETENTION_S, gt=0, allow_inf_nan=False, description="how long emitted topic event ids are remembered"
    )
