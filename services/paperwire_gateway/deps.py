"""Route dependencies (`Annotated[..., Depends(...)]`), the FastAPI full-stack template's way.

`create_app` puts one `GatewayContext` on `app.state.ctx`; every dependency reads from it, and routes only take
dependencies, never `request.app.state`. Tests swap any of them with `app.dependency_overrides[get_x] = ...`,
or call a route function by name with the objects they want.

Every dependency is `async def`: FastAPI runs a plain `def` dependency in a worker thread, a thread hop per
request that would cost more than the dependency does.
"""

# No `from __future__ import annotations`: FastAPI reads the Annotated dependencies at runtime.

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BeforeValidator

from paperwire_common.bus.port import EventBus
from paperwire_common.clock import Clock
from paperwire_common.ingest import IngestSummary
from paperwire_common.intake import IntakeStore
from paperwire_common.keys import KeyService, Principal, Scope
from paperwire_common.mail.digest import DigestBuilder
from paperwire_common.readiness import Probe
from paperwire_common.search.port import SearchIndex
from paperwire_common.search.service import SearchService
from paperwire_common.subscriptions.service import ANONYMOUS, SubscriptionService
from paperwire_common.topics.service import TopicReadService
from paperwire_common.trends.service import TrendReadService

from .access import Guard
from .availability import Breaker
from .ratelimit import RateLimits
from .revalidation import FeedVersions
from .settings import GatewaySettings
from .site.labels import TopicLabels

Readiness = Callable[[], dict[str, bool]]
# POST /v1/papers: (body, format name or "auto") -> summary; the runner passes the ingestor's in.
PaperIngest = Callable[[bytes, str], Awaitable[IngestSummary]]
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
    keys: KeyService
    intake: IntakeStore
    guard: Guard  # keys and quotas on their store, bounded: REST's Access and gRPC's KeyInterceptor share it
    public_url: str = "http://127.0.0.1:8000"  # base of links to the site (PAPERWIRE_PUBLIC_URL), no trailing /
    feed_versions: FeedVersions = field(default_factory=FeedVersions)
    readiness: Readiness | None = None  # in-process services' readiness (run all), besides the backends
    probes: dict[str, Probe] = field(default_factory=dict)  # the backends /readyz probes (kafka, elasticsearch, ...)
    kafka_breaker: Breaker = field(default_factory=lambda: Breaker("kafka", 5.0))  # writes fail fast while down
    ingest: PaperIngest | None = None  # None: this gateway cannot take papers (503)
    limits: RateLimits | None = None  # the quotas REST (access.py) and gRPC (grpc/auth.py) both count; None = off
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


async def get_key_service(request: Request) -> KeyService:
    return context(request).keys


async def get_intake(request: Request) -> IntakeStore:
    return context(request).intake


async def get_ingest(request: Request) -> PaperIngest | None:
    return context(request).ingest


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
KeyServiceDep = Annotated[KeyService, Depends(get_key_service)]
IntakeDep = Annotated[IntakeStore, Depends(get_intake)]
IngestDep = Annotated[PaperIngest | None, Depends(get_ingest)]

# ------------------------------------------------------------------------------------------------ keys and scopes
# access.py verifies the bearer key of every request (401 for a bad one) and leaves its Principal in the scope.

CHALLENGE = 'Bearer realm="paperwire"'


async def get_current_key(request: Request) -> Principal | None:
    """The Principal of the request's key; None for an anonymous request."""
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    return principal


CurrentKey = Annotated[Principal | None, Depends(get_current_key)]


def require_scope(scope: Scope) -> Any:
    """A dependency giving the request's Principal when its key holds `scope` (the master key holds every one):
    no key → 401 with `WWW-Authenticate`, a key without the scope → 403. Use as
    `key: Annotated[Principal, require_scope("subscriptions:write")]` or in `dependencies=[...]`."""

    async def scoped(request: Request) -> Principal:
        principal = await get_current_key(request)
        if principal is None:
            raise HTTPException(401, f"this needs a key with scope {scope}", headers={"WWW-Authenticate": CHALLENGE})
        if not principal.allows(scope):
            raise HTTPException(403, f"the key {principal.key_id} lacks the scope {scope}")
        return principal

    scoped.__name__ = "require_" + scope.replace(":", "_")
    return Depends(scoped)


async def require_master(request: Request) -> Principal:
    """The master key only (key management)."""
    principal = await get_current_key(request)
    if principal is None:
        raise HTTPException(401, "this needs the master key", headers={"WWW-Authenticate": CHALLENGE})
    if not principal.master:
        raise HTTPException(403, "only the master key manages keys")
    return principal


EventsWriter = Annotated[Principal, require_scope("events:write")]
PapersWriter = Annotated[Principal, require_scope("papers:write")]
SubscriptionsWriter = Annotated[Principal, require_scope("subscriptions:write")]
Admin = Annotated[Principal, require_scope("admin")]
MasterKey = Annotated[Principal, Depends(require_master)]


async def get_current_owner(key: SubscriptionsWriter) -> str:
    """Whose subscriptions these are: the key's id (`k_…`, or `master`). A key sees and changes only the
    subscriptions made with it; the site's anonymous e-mail sign-ups belong to ANONYMOUS, which no key id can be
    (KeyRecord ids are `k_…`)."""
    if key.key_id == ANONYMOUS:  # unreachable by construction; kept so no future id scheme can reach them
        raise HTTPException(403, "this key cannot own subscriptions")
    return key.key_id


async def require_operator(key: Admin) -> Principal:
    """Operator routes of the services (the digest run): a key with scope `admin`, or the master key."""
    return key


CurrentOwner = Annotated[str, Depends(get_current_owner)]
Operator = Annotated[Principal, Depends(require_operator)]


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


# ------------------------------------------------------------------------------------------------ dates
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: Any) -> Any:
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("Input should be a date like 2024-05-31")
    return value


# A query date exactly as the document says (format: date): pydantic alone would read `0` as 1970-01-01.
ISO_DATE = BeforeValidator(_iso_date)
