"""Stream registry: every Kafka topic ("stream" here, so that "topic" can mean a research topic), its schema,
key, producer, consumers and dead-letter topic."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from .events import Engagement, PaperEnriched, PaperRaw, PaperTopics, TopicEvent


@dataclass(frozen=True)
class StreamSpec:
    name: str
    schema: type[BaseModel]
    ce_type: str
    key: str
    producer: str
    consumers: tuple[str, ...]
    partitions: int = 3

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

ALL_STREAMS: tuple[StreamSpec, ...] = (PAPERS_RAW, PAPERS_ENRICHED, ENGAGEMENT, TOPIC_EVENTS, PAPER_TOPICS)
BY_NAME = {t.name: t for t in ALL_STREAMS}


def all_stream_names() -> list[str]:
    """Every topic including its dead-letter topic (what `ensure_topics` creates)."""
    return [n for t in ALL_STREAMS for n in (t.name, t.dlq)]
