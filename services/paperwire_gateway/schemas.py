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
from paperwire_common.subscriptions.validation import EMAIL_PATTERN
from paperwire_common.trends.port import MAX_STARS, MAX_TS

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
    title_match: bool = Field(description="its title contains the query as a phrase: such hits rank first")


class SearchItem(PaperFields):
    id: str
    score: float = Field(
        description="BM25 (keyword), cosine (semantic) or the convex combination of both, normalised (hybrid)"
    )
    highlights: dict[str, list[str]] = Field(description="field -> fragments with <em>matches</em>")
    explain: SearchExplain | None = None


class FacetValue(BaseModel):
    value: str | int | bool
    count: int


class SearchPage(BaseModel):
    total: int = Field(description="matches: every one can be reached by paging (hybrid: keyword ∪ semantic)")
    total_relation: Literal["eq", "gte"] = Field(
        description="eq: `total` is exact; gte: a lower bound (more than 10,000 matches, or a search cut short)"
    )
    items: list[SearchItem]
    facets: dict[str, list[FacetValue]] = Field(
        description="the facets asked for (`facets=`): counts over every match; {} when none was asked"
    )
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")
    mode: Literal["keyword", "semantic", "hybrid"] = Field(description="the mode served")
    degraded: str | None = Field(None, description="present when the mode served is not the mode asked for: why")
    timed_out: bool | None = Field(
        None, description="present (true) when the search ran out of its time budget: what was found by then"
    )


class SimilarPapers(BaseModel):
    paper_id: str
    method: Literal["vector", "text"] = Field(description="vector neighbours, or text ones for a paper without vector")
    items: list[SearchItem]


PaperId = Annotated[str, Field(min_length=1, max_length=200)]


class RecommendationsRequest(BaseModel):
    """Semantic Scholar's request: liked and disliked papers (its `ArXiv:`/`DOI:`/`URL:` ids or Paperwire's)."""

    model_config = ConfigDict(extra="forbid")
    positivePaperIds: list[PaperId] = Field(min_length=1, max_length=100)
    negativePaperIds: list[PaperId] = Field(default_factory=list, max_length=100)


class RecommendedAuthor(BaseModel):
    authorId: str | None = Field(description="always null: Paperwire has no author ids")
    name: str


class OpenAccessPdf(BaseModel):
    url: str
    status: str


class RecommendedPaper(BaseModel):
    """A paper in Semantic Scholar's field names; only the fields asked for (`fields=`) are present."""

    paperId: str
    externalIds: dict[str, str] | None = Field(None, description="ArXiv and DOI, when known")
    url: str | None = Field(None, description="the paper's page on this site")
    title: str | None = None
    abstract: str | None = None
    year: int | None = None
    publicationDate: str | None = Field(None, description="YYYY-MM-DD")
    authors: list[RecommendedAuthor] | None = None
    openAccessPdf: OpenAccessPdf | None = Field(None, description="the arXiv PDF of an arXiv paper")


class Recommendations(BaseModel):
    recommendedPapers: list[RecommendedPaper]


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
    project_urls: list[str] | None = None
    summary: str | None = Field(None, description="extractive summary, when the enricher made one")
    doi: str | None = None
    ingested_at: float | None = Field(None, description="epoch seconds when its current version arrived")


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
    hidden: bool


class DailyPaperPaper(BaseModel):
    id: str = Field(description="the arXiv id when the paper has one, else Paperwire's id")
    title: str
    summary: str = Field(description="the abstract")
    authors: list[DailyPaperAuthor]
    publishedAt: str | None = Field(description="publication time, YYYY-MM-DDTHH:MM:SS.sssZ; null when unknown")
    submittedOnDailyAt: str | None = Field(description="when it arrived (ingested_at), the day of the daily list")
    upvotes: int = Field(description="net upvotes")
    githubRepo: str | None
    projectPage: str | None
    ai_summary: str | None = Field(None, description="the extractive summary, when the enricher made one")
    ai_keywords: list[str] = Field(description="keyphrases")
    mediaUrls: list[str]


class DailyPaper(BaseModel):
    """One entry of Hugging Face's `/api/daily_papers` answer."""

    paper: DailyPaperPaper
    publishedAt: str | None = Field(description="when it was put on the daily list (its arrival)")
    submittedOnDailyAt: str | None = Field(description="the same: when it arrived")
    title: str
    summary: str
    numComments: int
    isAuthorParticipating: bool


# ------------------------------------------------------------------------------------------------ topics


class TopicTrend(BaseModel):
    recent: int = Field(description="arrivals in the last window")
    baseline: float = Field(description="mean arrivals per window before it")
    z: float = Field(description="burst z-score")
    lift: float | None = Field(description="growth of the topic's share of all arrivals; null without a baseline")
    bursting: bool
    arrivals: list[int] = Field(
        default_factory=list, description="arrivals per window, the baseline windows oldest first, then the recent one"
    )


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


class EngagementIn(BaseModel):
    """One event as clients send it. Types are strict: `"5"` or `true` is no star count. `actor_id` is
    scoped by the sending key (another key's actors cannot be impersonated); `id` makes retries idempotent
    (default: derived from the fields; see the README on retries without `ts`)."""

    model_config = ConfigDict(extra="forbid")
    id: Annotated[str | None, Field(min_length=1, max_length=64, pattern=_ID)] = None
    paper_id: Annotated[str, Field(min_length=1, max_length=200, pattern=_ID)]
    type: EngagementType
    actor_id: Annotated[str, Field(min_length=1, max_length=160, pattern=_ID)]
    # Bounds of the trend store (trends.port): a value it could not score is a 422 here, not a dead letter later.
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


# ------------------------------------------------------------------------------------------------ subscriptions

NotifyEvent = Literal["topic.created", "topic.trending", "search.match", "paper.recommended"]
TopicRef = Annotated[str, Field(min_length=1, max_length=200)]
PaperRef = Annotated[str, Field(min_length=1, max_length=200)]
SavedSearch = Annotated[
    str | None,
    Field(max_length=1000, description="a saved search in the query language of /v1/search (keyword mode)"),
]
EmailAddress = Annotated[
    str, Field(min_length=3, max_length=320, pattern=EMAIL_PATTERN, description="an e-mail address (user@domain)")
]
SubscriptionTopics = Annotated[
    list[TopicRef], Field(max_length=100, description="only these topics (ids or labels); empty = every topic")
]


class WebhookSubscriptionIn(BaseModel):
    """A webhook endpoint: signed deliveries (Standard Webhooks) of the events named."""

    model_config = ConfigDict(extra="forbid")
    channel: Literal["webhook"]
    url: str = Field(
        min_length=1,
        max_length=2048,
        pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://\S+$",
        description="https URL of the receiver; refused when it resolves to a loopback, private, link-local, "
        "CGNAT, multicast or reserved address (SSRF guard)",
    )
    events: list[NotifyEvent] = Field(min_length=1, max_length=4)
    query: SavedSearch = None
    topics: SubscriptionTopics = []
    positivePaperIds: list[PaperRef] = Field(
        [], max_length=500, description="a library: paper.recommended for new papers similar to these"
    )


class EmailSubscriptionIn(BaseModel):
    """A daily digest e-mail; nothing is sent until the address confirms (double opt-in)."""

    model_config = ConfigDict(extra="forbid")
    channel: Literal["email"]
    email: EmailAddress
    schedule: Literal["daily"] = "daily"
    query: SavedSearch = None
    topics: SubscriptionTopics = []


SubscriptionIn = Annotated[WebhookSubscriptionIn | EmailSubscriptionIn, Field(discriminator="channel")]


class EmailSignupIn(BaseModel):
    """The site's sign-up form: an e-mail address and, optionally, what the digest should be about."""

    model_config = ConfigDict(extra="forbid")
    email: EmailAddress
    query: SavedSearch = None
    topics: SubscriptionTopics = []


class Subscription(BaseModel):
    """A subscription as its owner reads it (never its secret or tokens). Times are ISO-8601 UTC."""

    id: str
    channel: Literal["webhook", "email"]
    status: Literal["active", "pending_confirmation", "disabled", "unsubscribed"]
    status_reason: str | None = Field(description="why it is disabled or unsubscribed")
    events: list[NotifyEvent]
    query: str | None
    topics: list[str]
    positivePaperIds: list[str]
    created_at: str
    updated_at: str
    url: str | None = Field(None, description="webhooks: the endpoint")
    email: str | None = Field(None, description="e-mail: the address")
    schedule: Literal["daily"] | None = None
    confirmed_at: str | None = Field(None, description="e-mail: when the address confirmed; null until then")


class SubscriptionCreated(Subscription):
    secret: str | None = Field(
        None, description="webhooks: the signing secret (whsec_<base64>), shown only in this answer"
    )


class SubscriptionList(BaseModel):
    items: list[Subscription] = Field(description="oldest first")


class SecretRotated(BaseModel):
    id: str
    secret: str = Field(description="the new signing secret (whsec_<base64>), shown only in this answer")
    previous_secret_expires_at: str = Field(description="until then deliveries carry both signatures")


class PingQueued(BaseModel):
    webhook_id: str = Field(description="the delivery's webhook-id: find its attempts in /deliveries")
    event_type: Literal["ping"]


class DeliveryAttempt(BaseModel):
    webhook_id: str = Field(description="the webhook-id header: the same on every attempt of one delivery")
    event_type: str
    event_id: str | None = Field(description="the event delivered")
    attempt: int = Field(description="1-based")
    at: str = Field(description="when the attempt finished (ISO-8601 UTC)")
    outcome: Literal["delivered", "retry", "dead"]
    status_code: int | None = Field(description="the receiver's HTTP status; null on a timeout or connection error")
    error: str | None = Field(description="what failed, when no 2xx came back")
    latency_ms: float
    next_attempt_at: str | None = Field(description="when the next attempt is due (outcome retry)")


class DeliveryLog(BaseModel):
    subscription_id: str
    attempts: list[DeliveryAttempt] = Field(description="newest first")


class SignupAccepted(BaseModel):
    status: Literal["pending_confirmation"]
    detail: str


class DigestsQueued(BaseModel):
    day: str = Field(description="the digest day (YYYY-MM-DD; it starts at PAPERWIRE_NOTIFIER_DIGEST_HOUR_UTC)")
    queued: int = Field(
        description="digests handed to the outbox now (the notifier sends them at once); 0 when "
        "every confirmed subscription already had today's"
    )


# ------------------------------------------------------------------------------------------------ operations


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, bool] = Field(
        description="each part: the backends this process reaches (kafka, elasticsearch, redis; bus and index when "
        "embedded), the subscription store and every in-process service"
    )
    failing: dict[str, str] | None = Field(None, description="the parts that are not ready, and why")


def problems(*statuses: int, why: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: these error statuses, each a Problem (openapi.py sets the media type);
    `why` says what a status means on this route, where the general reason is too vague."""
    return {s: {"model": Problem, "description": (why or {}).get(s) or ERRORS.get(s, "error")} for s in statuses}


ERRORS = {
    400: "invalid query syntax, cursor, body or fields",
    401: "no key, or a malformed, unknown, revoked or expired key (`WWW-Authenticate` says which)",
    403: "the key lacks the scope this needs",
    404: "no such paper, topic, subscription or key",
    408: "the request body did not arrive in time",
    413: "request body or batch too large",
    415: "the body's Content-Type is not one this accepts",
    422: "invalid parameters or body",
    429: "over the quota (`Retry-After`, `RateLimit` say when there is room again)",
    503: "a backend is unreachable (Retry-After says when to try again), or semantic search is unavailable",
}
