"""Research topics as stored and served: a TopicRecord per topic, with the Trend of its arrivals.

Written by the topic job (`paperwire_trending.topic_job`, detection in `paperwire_trending.detection`), kept by a
TopicStore (port.py) and read by the gateway through TopicReadService (service.py).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Trend(BaseModel):
    """A topic's arrival burst statistics at `as_of` (the method: `paperwire_trending.bursts`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    window: int  # W-aligned index of as_of: floor(as_of / W), the dedupe key of a trending event
    recent: int  # members that arrived in (as_of − W, as_of]
    baseline: float  # mean arrivals per window over the observed baseline windows
    std: float
    z: float
    lift: float | None  # None when the topic had no baseline arrivals
    history: int  # observed baseline windows
    arrivals: list[int]  # baseline windows oldest first, then the recent window
    bursting: bool


class TopicRecord(BaseModel):
    """A topic as stored (one JSON value per topic) and served."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    label: str
    keyphrases: list[str]
    members: list[str]  # sorted paper ids
    size: int
    cohesion: float
    created_at: float
    updated_at: float
    trend: Trend | None = None
