"""Gateway settings (env prefix PAPERWIRE_GATEWAY_)."""

from __future__ import annotations

from pydantic import Field, field_validator
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
    max_ingest_bytes: int = Field(
        33_554_432, ge=1024, description="largest body of POST /v1/papers (413 above; parsed off the event loop)"
    )
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
    max_star_gain_per_hour: float = Field(
        1000.0,
        ge=0,
        allow_inf_nan=False,
        description="a star snapshot may exceed the paper's highest earlier one by at most this many stars per "
        "hour between the two (422 above); a paper's first snapshot is its baseline",
    )
    event_dedupe_window_s: float = Field(
        600.0,
        ge=0,
        allow_inf_nan=False,
        description="identical events without `ts` or `id` from one key within this window are one event "
        "(a retried POST counts once); 0 = off",
    )
    idempotency_ttl_s: float = Field(
        86_400.0, gt=0, allow_inf_nan=False, description="how long an `Idempotency-Key` of POST /v1/events is kept"
    )
    public_reads: bool = Field(True, description="reads need no key (false: every read needs a valid key)")
    key_cache_ttl_s: float = Field(
        2.0,
        ge=0,
        le=60,
        allow_inf_nan=False,
        description="how long a replica trusts a verified key: the most a revocation takes to reach every replica",
    )
    rate_limits: bool = Field(True, description="enforce the quotas below (RateLimit headers, 429 above)")
    rate_limit_key: str = Field(
        "600/minute", description="quota of each API key (`limits` notation: N/second|minute|hour|day)"
    )
    rate_limit_anonymous: str = Field("120/minute", description="quota of each client address without a key")
    cors_origins: str = Field(
        "", description="comma-separated origins allowed by CORS (`*` for any; unset = no CORS headers)"
    )
    header_timeout_s: float = Field(
        10.0, gt=0, allow_inf_nan=False, description="a client must send a request's headers within this time"
    )
    body_timeout_s: float = Field(
        60.0, gt=0, allow_inf_nan=False, description="a client must send a request's body within this time (408)"
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

    @field_validator("rate_limit_key", "rate_limit_anonymous")
    @classmethod
    def _quota(cls, v: str) -> str:
        from limits import parse

        parse(v)  # ValueError: not a quota in `limits` notation
        return v
