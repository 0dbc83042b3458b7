"""Stream registry: every Kafka topic ("stream" here, so that "topic" can mean a research topic), its schema,
key, producer, consumers and dead-letter topic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from .events import Engagement, PaperEnriched, PaperRaw, PaperTopics, SubscriptionRecord, TopicEvent


@dataclass(frozen=True)
class StreamSpec:
    name: str
    schema: type[BaseModel]
    ce_type: str
    key: str
    producer: str
    consumers: tuple[str, ...]
    partitions: int = 3
    compacted: bool = False  # cleanup.policy=compact: the last record per key is kept forever (a table)

    @property
    def configs(self) -> dict[str, str]:
        """Kafka topic configs of the stream itself (its dead-letter topic is a plain log)."""
        return {"cleanup.policy": "compact"} if self.compacted else {}

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"


PAPERS_RAW = StreamSpec("papers.raw.v1", PaperRaw, "org.paperwire.paper.raw.v1", "paper_id", "ingestor", ("enricher",))
PAPERS_ENRICHED = StreamSpec(
    "papers.enriched.v1",
    PaperEnriched,
    "org.paperwire.paper.enriched.v1",
    "paper_id",
    "enricher",
    ("indexer", "trending", "notifier"),
)
ENGAGEMENT = StreamSpec(
    "engagement.v1", Engagement, "org.paperwire.engagement.v1", "paper_id", "gateway", ("trending",)
)
TOPIC_EVENTS = StreamSpec(
    "topics.v1", TopicEvent, "org.paperwire.topic.v1", "topic_id", "trending", ("notifier", "gateway"), partitions=1
)

PAPER_TOPICS = StreamSpec(
    "papers.topics.v1", PaperTopics, "org.paperwire.paper.topics.v1", "paper_id", "trending", ("indexer", "trending")
)

SUBSCRIPTIONS = StreamSpec(
    "subscriptions.v1",
    SubscriptionRecord,
    "org.paperwire.subscription.v1",
    "id",
    "gateway, notifier",
    ("gateway", "notifier"),
    partitions=1,
    compacted=True,
)

ALL_STREAMS: tuple[StreamSpec, ...] = (
    PAPERS_RAW,
    PAPERS_ENRICHED,
    ENGAGEMENT,
    TOPIC_EVENTS,
    PAPER_TOPICS,
    SUBSCRIPTIONS,
)
BY_NAME = {t.name: t for t in ALL_STREAMS}


def all_stream_names() -> list[str]:
    """Every topic including its dead-letter topic (what `ensure_topics` creates)."""
    return [n for t in ALL_STREAMS for n in (t.name, t.dlq)]


async def ensure_streams(bus: Any) -> None:
    """Create every stream and its dead-letter topic (idempotent): what services and `paperwire streams create` do."""
    for spec in ALL_STREAMS:
        await bus.ensure_topics([spec.name], partitions=spec.partitions, configs=spec.configs)
        await bus.ensure_topics([spec.dlq], partitions=spec.partitions)
