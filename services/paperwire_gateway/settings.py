"""Gateway settings (env prefix PAPERWIRE_GATEWAY_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAPERWIRE_GATEWAY_", extra="ignore")

    host: str = Field("127.0.0.1", description="HTTP bind address")
    port: int = Field(8000, ge=1, le=65535, description="HTTP port (REST, the site, /metrics)")
    grpc_port: int = Field(50051, ge=0, le=65535, description="gRPC port (0 = off)")
    grpc_host: str = Field(
        "127.0.0.1", description="gRPC bind address (plaintext: keep it on loopback or a private net)"
    )
    grpc_max_watchers: int = Field(
        100, ge=1, le=100_000, description="open WatchTopicEvents streams per gateway (RESOURCE_EXHAUSTED above)"
    )
    max_page_size: int = Field(100, ge=1, le=1000, description="largest `size` a search may ask for")
    cursor_secret: str = Field(
        "",
        description="HMAC key of pagination cursors; unset = random per process "
        "(set it when several gateways serve one URL)",
    )
    max_body_bytes: int = Field(262_144, ge=1024, description="largest request body accepted (413 above)")
    max_events_per_request: int = Field(1000, ge=1, le=100_000, description="events in one POST /v1/events")
    max_event_future_s: float = Field(300.0, ge=0, description="reject events stamped further ahead of now")
    backend_timeout_s: float = Field(
        5.0,
        gt=0,
        le=120,
        description="longest a write waits for Kafka's acknowledgement (and for Elasticsearch's known-paper check) "
        "before answering 503 with Retry-After",
    )
    retry_after_s: int = Field(
        5, ge=1, le=3600, description="Retry-After of a 503 (a backend unreachable); writes fail at once meanwhile"
    )
    hybrid_keyword_weight: float = Field(
        0.05, ge=0.0, le=1.0, description="weight α of the normalised keyword score in hybrid search (the rest: vector)"
    )
    hybrid_agreement_weight: float = Field(
        0.3, ge=0.0, le=1.0, description="added to α times the share of the keyword top 10 the vector top 10 holds too"
    )
    semantic_floor: float = Field(
        0.28, ge=-1.0, le=1.0, description="least cosine of a vector-only result (semantic and hybrid search)"
    )
    semantic_feedback_docs: int = Field(
        3, ge=0, le=20, description="pseudo-relevance feedback: the query vector moves toward its best N hits (0 = off)"
    )
    semantic_feedback_weight: float = Field(0.6, ge=0.0, le=2.0, description="... by this much")
    semantic_known_item_weight: float = Field(
        1.0,
        ge=0.0,
        le=4.0,
        description="a query that is one paper's title moves toward that paper's vector by this much (0 = off)",
    )
    hybrid_candidates: int = Field(100, ge=10, le=1000, description="vector results kept per semantic or hybrid query")
    search_budget_ms: int = Field(
        1000, ge=10, le=60_000, description="time budget of one search; past it, the answer is what was found"
    )
    operator_token: str = Field(
        "",
        description="bearer token of operator routes (POST /v1/digests/send) until API keys exist; unset = those "
        "routes answer 403",
    )
