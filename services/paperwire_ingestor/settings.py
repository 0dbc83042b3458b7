"""Ingestor settings (env prefix PAPERWIRE_INGESTOR_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IngestorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAPERWIRE_INGESTOR_", extra="ignore")

    batch_size: int = Field(500, ge=1, le=10_000, description="papers published per bus write")
    request_interval_s: float = Field(3.0, ge=0, description="min seconds between requests to one host (arXiv: 3)")
    checkpoint_dir: str = Field(".paperwire/checkpoints", description="where URL harvests keep resume state")
    progress: bool = Field(True, description="show a progress bar on stderr")
