"""Route dependencies (`Annotated[..., Depends(...)]`), the FastAPI full-stack template's way.

`create_app` puts one `GatewayContext` on `app.state.ctx`; every dependency reads from it, and routes only take
dependencies, never `request.app.state`. Tests swap any of them with `app.dependency_overrides[get_x] = ...`,
or call a route function by name with the objects they want.

Every dependency is `async def`: FastAPI runs a plain `def` dependency in a worker thread, a thread hop per
request that would cost more than the dependency does.
"""

# No `from __future__ import annotations`: FastAPI reads the Annotated dependencies at runtime.

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from paperwire_common.bus.port import EventBus
from paperwire_common.clock import Clock
from paperwire_common.mail.digest import DigestBuilder
from paperwire_common.readiness import Probe
from paperwire_common.search.port import SearchIndex
from paperwire_common.search.service import SearchService
from paperwire_common.subscriptions.service import SubscriptionService
from paperwire_common.topics.service import TopicReadService
from paperwire_common.trends.service import TrendReadService

from .availability import Breaker
from .revalidation import FeedVersions
from .settings import GatewaySettings
from .site.labels import TopicLabels

Readiness = Callable[[], dict[str, bool]]
# Marks the `size` parameters bounded by GatewaySettings.max_page_size: openapi.py writes the bound in.
PAGE_SIZE_MARK = "x-paperwire-page-size"


@dataclass
class GatewayContext:
    """Everything the routes read, built once by create_app."""

    settings: GatewaySettings
    clock: Clock
    index: SearchIndex
    bus: EventBus
    search: SearchService
    trends: TrendReadService
    topics: TopicReadService
    subscriptions: SubscriptionService
    digests: DigestBuilder
    public_url: str = "http://127.0.0.1:8000"  # base of links to the site (PAPERWIRE_PUBLIC_URL), no trailing /
    feed_versions: FeedVersions = field(default_factory=FeedVersions)
    readiness: Readiness | None = None  # in-process services' readiness (run all), besides the backends
    probes: dict[str, Probe] = field(default_factory=dict)  # the backends /readyz probes (kafka, elasticsearch, ...)
    kafka_breaker: Breaker = field(default_factory=lambda: Breaker("kafka", 5.0))  # writes fail fast while down
    topic_labels: TopicLabels = field(default_factory=TopicLabels)  # the site's cache of topic labels


def context(request: Request) -> GatewayContext:
    ctx: GatewayContext = request.app.state.ctx
    return ctx


# Each reads the context itself rather than depending on a `get_context` dependency: every node of the
# dependency graph is solved per request, and the chain would double the graph of a search.
async def get_settings(request: Request) -> GatewaySettings:
    return context(request).settings


async def get_clock(request: Request) -> Clock:
    return context(request).clock


async def get_index(request: Request) -> SearchIndex:
    return context(request).index


async def get_bus(request: Request) -> EventBus:
    return context(request).bus


async def get_search_service(request: Request) -> SearchService:
    return context(request).search


async def get_trend_service(request: Request) -> TrendReadService:
    return context(request).trends


async def get_topic_service(request: Request) -> TopicReadService:
    return context(request).topics


async def get_public_url(request: Request) -> str:
    return context(request).public_url


async def get_feed_versions(request: Request) -> FeedVersions:
    return context(request).feed_versions


async def get_readiness(request: Request) -> Readiness | None:
    return context(request).readiness


async def get_probes(request: Request) -> dict[str, Probe]:
    return context(request).probes


async def get_kafka_breaker(request: Request) -> Breaker:
    return context(request).kafka_breaker


async def get_topic_labels(request: Request) -> TopicLabels:
    ctx = context(request)
    return await ctx.topic_labels.current(ctx.topics)


async def get_subscription_service(request: Request) -> SubscriptionService:
    return context(request).subscriptions


async def get_digests(request: Request) -> DigestBuilder:
    return context(request).digests


# ---------------------------------------------------------------------------------------------- credentials
# Until API keys land (the `api` branch: PAPERWIRE_MASTER_KEY, scopes), the bearer token itself is the identity:
# its owner id is derived from it, so whoever holds a token sees and changes only the subscriptions made with it.
# With keys, get_current_owner becomes "the key (scope subscriptions:write) -> its id" and require_operator
# "the key has scope admin"; the routes, which only take `CurrentOwner` / `Operator`, stay as they are.
bearer = HTTPBearer(
    auto_error=False,
    description="A bearer token. Subscriptions belong to the token that made them; operator routes need "
    "PAPERWIRE_GATEWAY_OPERATOR_TOKEN.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def owner_of(token: str) -> str:
    """The owner id of a bearer token (never the token itself: owner ids are stored and logged)."""
    return "tok_" + hashlib.sha256(token.encode()).hexdigest()[:32]


async def get_current_owner(credentials: Credentials) -> str:
    if credentials is None or not credentials.credentials:
        raise _unauthorized("this route needs a credential: Authorization: Bearer <token>")
    return owner_of(credentials.credentials)


async def require_operator(request: Request, credentials: Credentials) -> None:
    if credentials is None or not credentials.credentials:
        raise _unauthorized("this route needs the operator credential: Authorization: Bearer <token>")
    want = context(request).settings.operator_token
    if not want:
        raise HTTPException(403, "no operator credential is configured (PAPERWIRE_GATEWAY_OPERATOR_TOKEN)")
    if not hmac.compare_digest(want.encode(), credentials.credentials.encode()):
        raise HTTPException(403, "this credential is not the operator's")


SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
IndexDep = Annotated[SearchIndex, Depends(get_index)]
BusDep = Annotated[EventBus, Depends(get_bus)]
SearchServiceDep = Annotated[SearchService, Depends(get_search_service)]
TrendServiceDep = Annotated[TrendReadService, Depends(get_trend_service)]
TopicServiceDep = Annotated[TopicReadService, Depends(get_topic_service)]
ReadinessDep = Annotated[Readiness | None, Depends(get_readiness)]
ProbesDep = Annotated[dict[str, Probe], Depends(get_probes)]
KafkaBreakerDep = Annotated[Breaker, Depends(get_kafka_breaker)]
TopicLabelsDep = Annotated[TopicLabels, Depends(get_topic_labels)]
PublicUrlDep = Annotated[str, Depends(get_public_url)]
FeedVersionsDep = Annotated[FeedVersions, Depends(get_feed_versions)]
SubscriptionServiceDep = Annotated[SubscriptionService, Depends(get_subscription_service)]
DigestsDep = Annotated[DigestBuilder, Depends(get_digests)]
CurrentOwner = Annotated[str, Depends(get_current_owner)]
Operator = Annotated[None, Depends(require_operator)]


def check_page_size(size: int, settings: GatewaySettings) -> int:
    """`size`, or the same 422 FastAPI gives for a Query(le=...) bound (problem+json with `errors`)."""
    bound = settings.max_page_size
    if size > bound:
        raise RequestValidationError(
            [
                {
                    "type": "less_than_equal",
                    "loc": ("query", "size"),
                    "msg": f"Input should be less than or equal to {bound}",
                    "input": size,
                    "ctx": {"le": bound},
                }
            ]
        )
    return size


def page_size(default: int) -> Any:
    """A `size` query parameter (1..PAPERWIRE_GATEWAY_MAX_PAGE_SIZE, checked at request time) with this default.

    The bound is a setting, read when the app is built, while routes are defined at import: the parameter
    carries a mark and openapi.py writes the configured maximum into the document. Only a size the client
    sent is checked (as FastAPI never checks a default against its bound).
    """

    async def size_param(
        request: Request,
        size: Annotated[
            int,
            Query(ge=1, description="results per page, 1..max_page_size", json_schema_extra={PAGE_SIZE_MARK: True}),
        ] = default,
    ) -> int:
        settings = context(request).settings
        if size > settings.max_page_size and "size" in request.query_params:
            return check_page_size(size, settings)
        return size

    size_param.__name__ = f"page_size_{default}"
    return Depends(size_param)


PageSize = Annotated[int, page_size(10)]  # search, similar papers, recommendations
FeedSize = Annotated[int, page_size(20)]  # trending and latest feeds
TopicListSize = Annotated[int, page_size(50)]  # topics
