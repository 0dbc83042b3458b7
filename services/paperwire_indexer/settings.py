"""Indexer settings (env prefix PAPERWIRE_INDEXER_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from paperwire_common.settings import ConsumerSettings


class IndexerSettings(ConsumerSettings):
    model_config = SettingsConfigDict(env_prefix="PAPERWIRE_INDEXER_", extra="ignore")

    batch_size: int = Field(1000, ge=1, le=10_000, description="enriched papers per bulk request")
