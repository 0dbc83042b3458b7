"""Enricher settings (env prefix PAPERWIRE_ENRICHER_)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from paperwire_common.settings import ConsumerSettings


class EnricherSettings(ConsumerSettings):
    model_config = SettingsConfigDict(env_prefix="PAPERWIRE_ENRICHER_", extra="ignore")

    batch_size: int = Field(64, ge=1, le=10_000, description="papers per batch (also the embedding batch)")
    keyphrases: Literal["yake", "off"] = Field("yake", description="keyphrase extractor")
    keyphrases_per_paper: int = Field(8, ge=0, le=50, description="keyphrases kept per paper")
    embedding_max_tokens: int = Field(
        128, ge=16, le=512, description="tokens of title+abstract embedded (the model was trained at 128)"
    )
    embedding_threads: int = Field(0, ge=0, description="onnxruntime threads (0 = all cores)")
    embedding_int8_ffn: bool = Field(
        True, description="feed-forward layers in int8: faster, same nDCG (the gateway's query encoder reads it too)"
    )
