"""Gateway REST API (FastAPI): builds the app from its routers, dependencies context and middleware.

Routes live in routes_*.py (module-level routers), their dependencies in deps.py, their models in schemas.py.
The site (routes_site.py, routes_subscribe.py) renders pages from the same read services, templates and
stylesheet in site/.
`/docs` (Swagger UI) and `/redoc` are served from the assets of the fastapi-offline package, so they work
without network access. Middleware, outermost first: CORS (when origins are configured), request metrics,
access (bearer key, rate limit: access.py), body size limit.
"""

from __future__ import annotations

import secrets

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from paperwire_common.backends import Backends
from paperwire_common.clock import Clock, SystemClock
from paperwire_common.keys import KeyService
from paperwire_common.keys.master import resolve_master_key
from paperwire_common.logging import get_logger
from paperwire_common.mail.digest import DigestBuilder
from paperwire_common.readiness import probes
from paperwire_common.search.service import Fusion, QueryEncoder, SearchService
from paperwire_common.subscriptions.service import SubscriptionService
from paperwire_common.subscriptions.settings import NotifySettings
from paperwire_common.topics.service import TopicReadService
from paperwire_common.trends.service import TrendReadService
from paperwire_common.trends.settings import TrendSettings

from . import (
    body_limit,
    openapi,
    problems,
    routes_compat,
    routes_events,
    routes_feeds,
    routes_ingest,
    routes_keys,
    routes_ops,
    routes_papers,
    routes_search,
    routes_signup,
    routes_site,
    routes_subscribe,
    routes_subscriptions,
    routes_topics,
    routes_trending,
)
from . import metrics as http_metrics
from .access import Access, Guard
from .availability import Breaker
from .deps import GatewayContext, PaperIngest, Readiness
from .ratelimit import RateLimits, make_rate_limits
from .settings import GatewaySettings

log = get_logger(__name__)
ROUTERS = (
    routes_search,
    routes_papers,
    routes_ingest,
    routes_events,
    routes_trending,
    routes_feeds,
    routes_compat,
    routes_topics,
    routes_subscriptions,
    routes_signup,
    routes_keys,
    routes_ops,
)
SITE_ROUTERS = (routes_site, routes_subscribe)  # the pages: HTML, outside the OpenAPI document
DOCS_ASSETS = "/docs-assets"
# Headers a browser script may send and read across origins (CORS).
CORS_REQUEST_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key"]
CORS_EXPOSED_HEADERS = ["RateLimit", "RateLimit-Policy", "Retry-After", "WWW-Authenticate"]


def own_url(settings: GatewaySettings) -> str:
    """The gateway's own address: the default of PAPERWIRE_PUBLIC_URL."""
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"http://{host}:{settings.port}"


def create_app(
    backends: Backends,
    settings: GatewaySettings | None = None,
    readiness: Readiness | None = None,
    encoder: QueryEncoder | None = None,
    clock: Clock | None = None,
    encoder_reason: str = "the embedding model is not loaded (PAPERWIRE_EMBEDDINGS=false or no model stack)",
    trend_settings: TrendSettings | None = None,
    notify_settings: NotifySettings | None = None,
    *,
    master_key: str | None = None,
    ingest: PaperIngest | None = None,
    keys: KeyService | None = None,
    rate_limits: RateLimits | bool | None = True,
) -> FastAPI:
    """The app over these backends. `master_key`: default PAPERWIRE_MASTER_KEY, or the embedded data dir's
    master.key (generated on first start); `ingest`: what POST /v1/papers calls (the runner passes the
    ingestor's); `keys`: a KeyService to share (gRPC uses the same); `rate_limits`: True = from the settings."""
    settings = settings or GatewaySettings()
    notify = notify_settings or NotifySettings()
    clock = clock or SystemClock()
    # Base of every link we hand out (pages, feeds, mails, webhook bodies): PAPERWIRE_PUBLIC_URL or our own address.
    public = backends.settings.public_url.rstrip("/") if backends.settings.public_url else own_url(settings)
    secret = settings.cursor_secret
    if not secret:
        # Cursors then only work against this process; several gateways behind one URL need a shared secret.
        secret = secrets.token_hex(16)
        log.info("gateway.cursor_secret_generated", hint="set PAPERWIRE_GATEWAY_CURSOR_SECRET to share cursors")
    if keys is None:
        keys = KeyService(
            backends.keys,
            master_key or resolve_master_key(backends.settings),
            clock=clock,
            cache_ttl_s=settings.key_cache_ttl_s,
        )
    limits = make_rate_limits(backends.settings, settings) if rate_limits is True else rate_limits or None
    search = SearchService(
        backends.index,
        encoder,
        cursor_secret=secret.encode(),
        fusion=Fusion(
            keyword_weight=settings.hybrid_keyword_weight,
            agreement_weight=settings.hybrid_agreement_weight,
            floor=settings.semantic_floor,
            feedback_docs=settings.semantic_feedback_docs,
            feedback_weight=settings.semantic_feedback_weight,
            known_item_weight=settings.semantic_known_item_weight,
            candidates=settings.hybrid_candidates,
            budget_s=settings.search_budget_ms / 1000,
        ),
        encoder_unavailable_reason=encoder_reason,
    )
    app = FastAPIOffline(
        title="Paperwire",
        version="1.0.0",
        description="Search, feeds and subscriptions for trending research papers. Writes need an API key "
        "(`Authorization: Bearer <key>`) with their scope. Errors are application/problem+json (RFC 9457).",
        static_url=DOCS_ASSETS,
    )
    app.state.ctx = GatewayContext(
        settings=settings,
        clock=clock,
        index=backends.index,
        bus=backends.bus,
        search=search,
        trends=TrendReadService(backends.trends, backends.index, trend_settings or TrendSettings(), clock),
        topics=TopicReadService(backends.topics, backends.index),
        public_url=public,
        subscriptions=SubscriptionService(backends.subscriptions, backends.deliveries, notify, public, clock=clock),
        digests=DigestBuilder(backends.index, backends.trends, backends.topics, notify, public),
        keys=keys,
        intake=backends.intake,
        guard=Guard(keys, limits, timeout_s=settings.backend_timeout_s, retry_after_s=settings.retry_after_s),
        readiness=readiness,
        probes=probes(backends, ("bus", "index", "redis")),
        kafka_breaker=Breaker("kafka", settings.retry_after_s),
        ingest=ingest,
        limits=limits,
    )
    problems.install(app, settings.retry_after_s)
    # add_middleware wraps: the last added is the outermost.
    body_limit.install(app, settings.max_body_bytes, {"/v1/papers": settings.max_ingest_bytes})
    app.add_middleware(Access, guard=app.state.ctx.guard, public_reads=settings.public_reads)
    http_metrics.install(app)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            max_age=600,
        )
    for module in ROUTERS:
        app.include_router(module.router)
    for module in SITE_ROUTERS:
        app.include_router(module.router)
    problems.index_methods(app, [m.router for m in (*ROUTERS, *SITE_ROUTERS)])
    openapi.install(app, settings)
    return app
