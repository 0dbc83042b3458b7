"""Every request and response body of the REST API, as the OpenAPI document states it.

Routes return the read services' JSON-ready dicts and FastAPI validates them against these models
(`response_model_exclude_unset=True`: a key the service left out stays out, e.g. fields a search did not ask for).
Document models allow extra keys, so a field added to the indexed document reaches clients before it is named
here. Errors are `Problem` (RFC 9457), sent as application/problem+json.
"""

# No `from __future__ import annotations`: FastAPI and pydantic read these annotations at runtime.

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictFloat, StrictInt, model_validator

from paperwire_common.events import EngagementType
from paperwire_common.keys import Scope

# ------------------------------------------------------------------------------------------------ errors


class ProblemError(BaseModel):
    loc: list[str | int] = Field(description="where: e.g. ['query', 'size']")
    msg: str


class Problem(BaseModel):
    """RFC 9457 problem details: the body of every error answer (application/problem+json)."""

    type: str = Field("about:blank", description="a URI naming the kind of problem")
    title: str = Field(description="short summary of the kind of problem (the HTTP reason phrase or more precise)")
    status: int = Field(description="the HTTP status code")
    detail: str = Field(description="what went wrong with this request, and what to fix")
    errors: list[ProblemError] | None = Field(None, description="422 of invalid parameters: every error found")


# ------------------------------------------------------------------------------------------------ papers


class PaperFields(BaseModel):
    """The fields of an indexed paper (a search can ask for a subset with `fields=`)."""

    model_config = ConfigDict(extra="allow")
    id: str | None = None
    version: int | None = Field(None, description="revision of the paper (the index's external version)")
    content_hash: str | None = None
    title: str | None = None
    abstract: str | None = None
    authors: list[str] | None = None
    arxiv_id: str | None = None
    arxiv_version: int | None = None
    doi: str | None = None
    categories: list[str] | None = None
    published_at: str | None = Field(None, description="ISO-8601 date or datetime")
    year: int | None = None
    source: str | None = Field(None, description="ingest source: text|jsonl|arxiv-atom|oai-pmh|daily-papers")
    source_url: str | None = None
    keyphrases: list[str] | None = None
    topics: list[str] | None = Field(None, description="topic ids")
    topic_labels: list[str] | None = None
    methods: list[str] | None = None
    datasets: list[str] | None = None
    code_urls: list[str] | None = None
    project_urls: list[str] | None = None
    code_url: str | None = Field(None, description="the first code URL")
    has_code: bool | None = None
    ingested_at: float | None = Field(None, description="epoch seconds when the ingestor accepted it")


class Paper(PaperFields):
    """GET /v1/papers/{paper_id}: the indexed document (without its embedding)."""

    id: str
    version: int
    title: str


class SearchExplain(BaseModel):
    """How a hit was ranked (explain=true): its rank and score in each list, and the fused score."""

    keyword_rank: int | None
    keyword_score: float | None
    vector_rank: int | None
    vector_score: float | None
    fused_score: float


class SearchItem(PaperFields):
    id: str
    score: float = Field(description="BM25 (keyword), cosine (semantic) or reciprocal rank fusion (hybrid)")
    highlights: dict[str, list[str]] = Field(description="field -> fragments with <em>matches</em>")
    explain: SearchExplain | None = None


class FacetValue(BaseModel):
    value: str | int | bool
    count: int


class SearchPage(BaseModel):
    total: int = Field(description="matches (hybrid: candidates fused)")
    items: list[SearchItem]
    facets: dict[str, list[FacetValue]] = Field(description="topics, year, has_code, source: counts over all matches")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")
    mode: Literal["keyword", "semantic", "hybrid"] = Field(description="the mode served")
    degraded: str | None = Field(None, description="present when the mode served is not the mode asked for: why")


class SimilarPapers(BaseModel):
    paper_id: str
    method: Literal["vector", "text"] = Field(description="vector neighbours, or text ones for a paper without vector")
    items: list[SearchItem]


class RecommendationsRequest(BaseModel):
    positive_ids: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1, max_length=100)
    negative_ids: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=100
    )


class Recommendations(BaseModel):
    recommended_papers: list[SearchItem]


class Suggestion(BaseModel):
    text: str
    kind: Literal["title", "topic", "method"]
    id: str | None = Field(description="the paper, for a title")


class Suggestions(BaseModel):
    suggestions: list[Suggestion]


# ------------------------------------------------------------------------------------------------ trending


class FeedItem(BaseModel):
    """A paper in a feed (a fixed set of document fields)."""

    model_config = ConfigDict(extra="allow")
    id: str
    title: str | None = None
    abstract: str | None = None
    authors: list[str] | None = None
    published_at: str | None = None
    topics: list[str] | None = None
    topic_labels: list[str] | None = None
    keyphrases: list[str] | None = None
    code_url: str | None = None
    has_code: bool | None = None
    arxiv_id: str | None = None
    source: str | None = None
    upvotes: int | None = None


class TrendingItem(FeedItem):
    score: float = Field(description="time-decayed score in the window at as_of")
    rank: int = Field(description="1-based position in the feed")


class TrendingFeed(BaseModel):
    window: Literal["24h", "7d", "30d"]
    topic: str | None
    as_of: str = Field(description="ISO-8601 UTC time the scores are taken at")
    items: list[TrendingItem]


class LatestFeed(BaseModel):
    items: list[FeedItem]


class TypeShare(BaseModel):
    count: int = Field(description="events counted (upvotes net of unvotes; for stars: stars gained)")
    weight: float = Field(description="the event type's weight (PAPERWIRE_TRENDING_WEIGHT_*)")
    score: float = Field(description="its decayed contribution at as_of")


class WindowExplain(BaseModel):
    score: float
    half_life_s: float
    breakdown: dict[str, TypeShare] = Field(description="event type (view, upvote, ..., prior) -> its share")


class TrendExplain(BaseModel):
    paper_id: str
    as_of: str
    windows: dict[str, WindowExplain] = Field(description="window (24h, 7d, 30d) -> score and breakdown")


# ------------------------------------------------------------------------------------------------ compatibility


class DailyPaperAuthor(BaseModel):
    name: str


class DailyPaperPaper(BaseModel):
    id: str = Field(description="the arXiv id when the paper has one, else Paperwire's id")
    title: str
    summary: str
    authors: list[DailyPaperAuthor]
    publishedAt: str | None
    upvotes: int
    githubRepo: str | None


class DailyPaper(BaseModel):
    """One entry of Hugging Face's `/api/daily_papers` answer."""

    paper: DailyPaperPaper
    title: str
    summary: str
    publishedAt: str | None
    numComments: int


# ------------------------------------------------------------------------------------------------ topics


class TopicTrend(BaseModel):
    recent: int = Field(description="arrivals in the last window")
    baseline: float = Field(description="mean arrivals per window before it")
    z: float = Field(description="burst z-score")
    lift: float | None = Field(description="growth of the topic's share of all arrivals; null without a baseline")
    bursting: bool


class TopicSummary(BaseModel):
    id: str
    label: str
    keyphrases: list[str]
    size: int
    cohesion: float = Field(description="mean cosine similarity over member pairs")
    created_at: str
    trend: TopicTrend


class TopicPaper(BaseModel):
    id: str
    title: str


class TopicDetail(TopicSummary):
    papers: list[TopicPaper] = Field(description="newest arrivals first")


# ------------------------------------------------------------------------------------------------ events


# Ids the trend store could not dedupe (control characters are its separators) are refused at the door.
_ID = r"^[^\x00-\x1f\x7f]+$"
MAX_STARS = 1_000_000_000  # the trend store's bound (trends.port): above it a snapshot could not be scored
MAX_TS = float(2**36)  # epoch seconds, the trend store's bound (year ~4147)


class EngagementIn(BaseModel):
    """One event as clients send it. Types are strict: `"5"` or `true` is no star count. `actor_id` is
    scoped by the sending key (another key's actors cannot be impersonated); `id` makes retries idempotent
    (default: derived from the fields; see the README on retries without `ts`)."""

    model_config = ConfigDict(extra="forbid")
    id: Annotated[str | None, Field(min_length=1, max_length=64, pattern=_ID)] = None
    paper_id: Annotated[str, Field(min_length=1, max_length=200, pattern=_ID)]
    type: EngagementType
    actor_id: Annotated[str, Field(min_length=1, max_length=160, pattern=_ID)]
    ts: Annotated[
        StrictFloat | StrictInt | None,
        Field(ge=0, le=MAX_TS, allow_inf_nan=False, description="epoch seconds; default: now"),
    ] = None
    stars: Annotated[
        StrictInt | None, Field(ge=0, le=MAX_STARS, description="GitHub star count snapshot (type=star)")
    ] = None

    @model_validator(mode="after")
    def _stars_only_for_star(self) -> "EngagementIn":
        if self.type == "star" and self.stars is None:
            raise ValueError("a star event needs `stars`, the repository's current star count")
        if self.type != "star" and self.stars is not None:
            raise ValueError("`stars` is only for type=star")
        return self


class EventsAccepted(BaseModel):
    accepted: int
    ids: list[str] = Field(description="the event ids, in request order")


# ------------------------------------------------------------------------------------------------ ingest


class Rejection(BaseModel):
    position: str = Field(description='where in the body: "line 3", "entry 2", ...')
    reason: str


class IngestAccepted(BaseModel):
    """POST /v1/papers: what became of the body's records (new and updated ones are on their way to the index)."""

    format: str = Field(description="the format read")
    read: int
    new: int
    updated: int
    unchanged: int
    rejected: int
    rejections: list[Rejection] = Field(description="the first rejections (at most 100), in input order")


# ------------------------------------------------------------------------------------------------ keys


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=_ID)]
    scopes: list[Scope] = Field(min_length=1, max_length=4)
    expires_at: AwareDatetime | None = Field(None, description="ISO-8601 with a UTC offset; unset = never")


class KeyInfo(BaseModel):
    id: str
    name: str
    scopes: list[Scope]
    prefix: str = Field(description="the key's first characters, to recognise it")
    created_at: str = Field(description="ISO-8601 UTC")
    expires_at: str | None = Field(description="ISO-8601 UTC; null = never")


class KeyCreated(KeyInfo):
    key: str = Field(description="the key itself: shown this once, only its hash is stored")


class KeyList(BaseModel):
    keys: list[KeyInfo]


# ------------------------------------------------------------------------------------------------ operations


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, bool] = Field(description="each check: the index, and every in-process service")


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: these error statuses, each a Problem (openapi.py sets the media type)."""
    return {s: {"model": Problem, "description": ERRORS.get(s, "error")} for s in statuses}


ERRORS = {
    400: "invalid query syntax, cursor or body",
    401: "no key, or a malformed, unknown, revoked or expired key (`WWW-Authenticate` says which)",
    403: "the key lacks the scope this needs",
    404: "no such paper, topic or key",
    408: "the request body did not arrive in time",
    413: "request body or batch too large",
    415: "the body's Content-Type is not one this accepts",
    422: "invalid parameters or body",
    429: "over the quota (`Retry-After`, `RateLimit` say when there is room again)",
    503: "semantic search unavailable (no embedding model)",
}
