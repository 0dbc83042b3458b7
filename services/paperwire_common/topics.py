"""Topic registry: every topic, its schema, key, producer, consumers and dead-letter topic."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from .events import Engagement, PaperEnriched, PaperRaw, TopicEvent


@dataclass(frozen=True)
class TopicSpec:
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


PAPERS_RAW = TopicSpec("papers.raw.v1", PaperRaw, "org.paperwire.paper.raw.v1", "paper_id", "ingestor", ("enricher",))
PAPERS_ENRICHED = TopicSpec(
    "papers.enriched.v1",
    PaperEnriched,
    "org.paperwire.paper.enriched.v1",
    "paper_id",
    "enricher",
    ("indexer", "trending", "notifier"),
)
ENGAGEMENT = TopicSpec("engagement.v1", Engagement, "org.paperwire.engagement.v1", "paper_id", "gateway", ("trending",))
TOPICS = TopicSpec(
    "topics.v1", TopicEvent, "org.paperwire.topic.v1", "topic_id", "trending", ("notifier",), partitions=1
)

ALL_TOPICS: tuple[TopicSpec, ...] = (PAPERS_RAW, PAPERS_ENRICHED, ENGAGEMENT, TOPICS)
BY_NAME = {t.name: t for t in ALL_TOPICS}


def all_topic_names() -> list[str]:
    """Every topic including its dead-letter topic (what `ensure_topics` creates)."""
    return [n for t in ALL_TOPICS for n in (t.name, t.dlq)]
