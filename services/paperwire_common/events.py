"""Versioned event schemas, one pydantic model per topic, JSON on the wire.

Every message carries `schema_version`; CloudEvents attributes travel in Kafka headers (see envelope.py).
A breaking change means a new model and a new topic (`papers.raw.v2`), never an edit of a published one.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Author(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=300)
    affiliation: str | None = None


class PaperRaw(_Event):
    """papers.raw.v1 — a paper as read from a source, before enrichment. Key: paper_id."""

    schema_version: Literal[1] = 1
    paper_id: str = Field(min_length=3, max_length=200, description="canonical id: arxiv:/doi:/title:")
    version: int = Field(ge=1, description="monotonic revision; the index's external version")
    content_hash: str = Field(min_length=8, max_length=64)
    title: str = Field(min_length=1, max_length=2000)
    abstract: str = Field(default="", max_length=50_000)
    authors: list[Author] = Field(default_factory=list, max_length=5000)
    arxiv_id: str | None = None
    arxiv_version: int | None = Field(default=None, ge=1)
    doi: str | None = None
    categories: list[str] = Field(default_factory=list)
    published_at: str | None = Field(default=None, description="ISO-8601 date or datetime")
    updated_at: str | None = None
    source: str = Field(description="ingest source: text|jsonl|arxiv-atom|oai-pmh|daily-papers")
    source_url: str | None = None
    links: list[str] = Field(default_factory=list, description="links given by the source itself")
    upvotes: int | None = Field(default=None, ge=0, description="source-side engagement, if any")
    ingested_at: float = Field(description="epoch seconds when the ingestor accepted it")

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, v: str) -> str:
        v = " ".join(v.split())
        if not v:
            raise ValueError("title is blank")
        return v


class NamedEntity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    acronym: str | None = None
    kind: Literal["method", "dataset"]


class PaperEnriched(_Event):
    """papers.enriched.v1 — PaperRaw plus what readers need. Key: paper_id."""

    schema_version: Literal[1] = 1
    paper: PaperRaw
    keyphrases: list[str] = Field(default_factory=list)
    topics: list[str] = Field(
        default_factory=list, description="topic ids (the topic job assigns them later, on papers.topics.v1)"
    )
    topic_labels: list[str] = Field(default_factory=list)
    code_urls: list[str] = Field(default_factory=list)
    project_urls: list[str] = Field(default_factory=list)
    methods: list[NamedEntity] = Field(default_factory=list)
    datasets: list[NamedEntity] = Field(default_factory=list)
    embedding: list[float] | None = Field(default=None, description="L2-normalised sentence embedding")
    embedding_model: str | None = None
    enriched_at: float
    summary: str | None = Field(default=None, description="extractive: the abstract's most central sentences")


EngagementType = Literal["view", "upvote", "unvote", "download", "star", "mention", "comment"]


class Engagement(_Event):
    """engagement.v1 — one thing a reader (or GitHub, for stars) did to a paper. Key: paper_id."""

    schema_version: Literal[1] = 1
    id: str = Field(min_length=1, max_length=128, description="idempotency key")
    paper_id: str = Field(min_length=3, max_length=200)
    type: EngagementType
    actor_id: str = Field(min_length=1, max_length=200)
    ts: float = Field(description="epoch seconds when it happened")
    stars: int | None = Field(default=None, ge=0, description="star-count snapshot (type=star)")


class TopicEvent(_Event):
    """topics.v1 — a topic was created or started trending. Key: topic_id."""

    schema_version: Literal[1] = 1
    id: str
    kind: Literal["topic.created", "topic.trending"]
    topic_id: str
    label: str
    keyphrases: list[str] = Field(default_factory=list)
    paper_ids: list[str] = Field(default_factory=list)
    score: float | None = None
    detected_at: float


class PaperTopics(_Event):
    """papers.topics.v1 — the topics the latest re-clustering put one paper in (none: it left every topic).
    Key: paper_id. Published by the topic job for every paper whose assignment changed; a later `assigned_at`
    replaces an earlier one, whatever order they are read in, so replaying the stream gives the same topics."""

    schema_version: Literal[1] = 1
    id: str = Field(min_length=1, max_length=128, description="idempotency key")
    paper_id: str = Field(min_length=3, max_length=200)
    topics: list[str] = Field(default_factory=list, max_length=100, description="topic ids")
    topic_labels: list[str] = Field(default_factory=list, max_length=100, description="their labels, same order")
    assigned_at: float = Field(description="epoch seconds of the re-clustering: the assignment's version")

    @property
    def version(self) -> int:
        """The assignment's version, an integer (milliseconds) for Elasticsearch's external versioning."""
        return round(self.assigned_at * 1000)


SubscriptionChannel = Literal["webhook", "email"]
SubscriptionStatus = Literal["active", "pending_confirmation", "disabled", "unsubscribed", "deleted"]
NotifyEventType = Literal["topic.created", "topic.trending", "search.match", "paper.recommended"]


class WebhookSecret(BaseModel):
    """One signing secret of a webhook subscription; a rotated-out secret signs until `expires_at`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    secret: str = Field(pattern=r"^whsec_[A-Za-z0-9+/=]+$", description="whsec_<base64 of the key bytes>")
    created_at: float
    expires_at: float | None = Field(default=None, description="None while current; set when rotated out")


class SubscriptionRecord(_Event):
    """subscriptions.v1 — the whole current state of one subscription (compacted: the last record per key wins;
    status `deleted` is the deletion marker). Key: subscription id. Written by whoever changes it (gateway,
    notifier), read by every process into its view."""

    schema_version: Literal[1] = 1
    id: str = Field(min_length=1, max_length=64)
    revision: int = Field(ge=1, description="bumped on every change; a view keeps the highest")
    owner: str = Field(min_length=1, max_length=200, description="who may see and change it (an API key id)")
    channel: SubscriptionChannel
    url: str | None = Field(default=None, max_length=2048, description="webhook endpoint")
    email: str | None = Field(default=None, max_length=320)
    events: list[NotifyEventType] = Field(default_factory=list, description="webhook event types")
    query: str | None = Field(default=None, max_length=1000, description="saved search (query language)")
    topics: list[str] = Field(default_factory=list, max_length=100, description="topic ids or labels")
    positive_paper_ids: list[str] = Field(default_factory=list, max_length=500, description="library")
    schedule: Literal["daily"] | None = None
    secrets: list[WebhookSecret] = Field(default_factory=list, description="current first, then rotated-out")
    status: SubscriptionStatus = "active"
    status_reason: str | None = Field(default=None, max_length=2000, description="why it is disabled")
    confirm_token: str | None = None
    unsubscribe_token: str | None = None
    created_at: float
    updated_at: float
    confirmed_at: float | None = None
