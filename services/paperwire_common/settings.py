"""Settings shared by every service. Env prefix PAPERWIRE_ (e.g. PAPERWIRE_BACKEND=kafka).

Each service adds its own settings class with the prefix PAPERWIRE_<SERVICE>_.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .workers import health_ports_text


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAPERWIRE_", extra="ignore")

    backend: Literal["embedded", "kafka"] = Field(
        "embedded", description="embedded: in-process bus/index/store; kafka: Kafka + Elasticsearch + Redis"
    )
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers")
    kafka_replication_factor: int = Field(
        1, ge=1, le=32, description="replicas of each stream the services create (3 on a cluster of three or more)"
    )
    elasticsearch_url: str = Field("http://127.0.0.1:9200", description="Elasticsearch URL")
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis URL")
    namespace: str = Field(
        "",
        description="prefix of Kafka topics and groups, the index alias and Redis keys (isolates deployments)",
    )
    index_alias: str = Field("papers", description="search index alias (points at papers-v1, ...)")
    public_url: str = Field(
        "",
        description="base URL of the site in every link Paperwire writes (feeds, e-mails, webhooks), e.g. "
        "https://papers.example.org; unset = the gateway's own address (http://<gateway host>:<gateway port>)",
    )
    embedded_data_dir: str | None = Field(
        None,
        description="where the embedded backend persists (SQLite: bus log, index, registry, trend snapshot, "
        "topics, notifications, API keys, intake); unset = all in memory (`make run`: .paperwire/data)",
    )
    master_key: SecretStr | None = Field(
        None,
        description="the operator's credential: manages API keys, holds every scope (embedded backend: generated "
        "into the data dir as master.key when unset; kafka backend: required by the gateway)",
    )
    embeddings: bool = Field(True, description="compute sentence embeddings (needs the ONNX model stack)")
    health_host: str = Field("127.0.0.1", description="bind address of a lone service's health/metrics port")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING, ERROR")
    log_format: Literal["json", "console"] = Field("json", description="json lines or human console")

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        v = v.strip().rstrip("/")
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("PAPERWIRE_PUBLIC_URL must be an http:// or https:// URL")
        return v


class ConsumerSettings(BaseSettings):
    """Batching and poison handling of one consumer (inherited with the service's prefix)."""

    group: str | None = Field(None, description="consumer group (default paperwire-<service>)")
    batch_size: int = Field(500, ge=1, le=10_000, description="max records per polled batch")
    poll_timeout_s: float = Field(0.5, gt=0, description="how long a poll waits for the first record")
    read_ahead: bool = Field(True, description="poll and decode the next batch while the sink writes this one")
    poison_max_ratio: float = Field(0.5, ge=0, le=1, description="halt when more than this share of a batch is poison")
    poison_min_batch: int = Field(10, ge=1, description="batches smaller than this never halt")
    retry_backoff_s: float = Field(1.0, gt=0, description="first wait after a failed batch (doubles, max 30 s)")
    health_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="port of /healthz, /readyz, /metrics when run alone (0 = the service's default: "
        f"{health_ports_text()})",
    )
