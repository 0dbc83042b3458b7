"""Who is asking, and may they: the bearer key and the rate limit of every request, as one ASGI middleware.

A request with `Authorization: Bearer <key>` is served as that key's Principal (deps.CurrentKey, and
deps.require_scope for writes); a malformed, unknown, revoked or expired key is a 401 at once, on reads too.
Without a key a request is anonymous: reads are public unless PAPERWIRE_GATEWAY_PUBLIC_READS=false, writes are
refused by their route's scope (401). Then the quota of the key, or of the client address without one, is
counted (ratelimit.py). The master key has no quota. Operations endpoints (health, readiness, metrics) are
neither authenticated nor limited, so probes and scrapes never spend a quota.

Keys and quotas live in Redis on the kafka backend, and every call to it is bounded: a key that cannot be
verified because Redis is unreachable is a 503 with Retry-After (never a hang or a 500); quotas fail open while
their store is unreachable (reads keep working on Elasticsearch alone; a warning is logged, the answers carry no
RateLimit headers meanwhile), and a breaker skips the store for Retry-After seconds after a failure.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperwire_common.keys import KeyService, Principal
from paperwire_common.logging import get_logger

from .availability import Breaker, Unavailable, bounded
from .problems import problem, unavailable
from .ratelimit import RateLimits, Verdict

OPERATIONS = frozenset({"/healthz", "/readyz", "/metrics"})
# Served without a key even when reads are not public: what holds no data (the documentation, the site's
# stylesheet and script). The site's pages show data (even the sign-up form lists topics): they need a key then.
STATIC = ("/docs", "/redoc", "/openapi.json", "/docs-assets", "/favicon.ico", "/assets/")
# And the links of the notifier's e-mails: their token is the credential (a recipient has no key).
EMAILED_LINKS = re.compile(r"/v1/subscriptions/[^/]+/(?:confirm|unsubscribe)")
READS = frozenset({"GET", "HEAD"})
CHALLENGE = 'Bearer realm="paperwire"'
UNCOUNTED = Verdict(True, [], 0)  # a request the quota store could not count
log = get_logger(__name__)


def bearer(scope: Scope) -> str | None:
    """The Authorization header's value; None when absent or empty (an anonymous request)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return str(value.decode("latin-1")).strip() or None
    return None


def unauthorized(detail: str, error: str | None = None) -> Any:
    challenge = CHALLENGE + (f', error="{error}"' if error else "")
    return problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": challenge})


class Guard:
    """Keys and quotas on their store, every call bounded: one per gateway, shared by REST (Access) and gRPC
    (grpc/auth.py), so both see one breaker per part."""

    def __init__(
        self, keys: KeyService, limits: RateLimits | None, *, timeout_s: float = 5.0, retry_after_s: int = 5
    ) -> None:
        self.keys, self.limits = keys, limits
        self.timeout_s, self.retry_after_s = timeout_s, retry_after_s
        self.keys_breaker = Breaker("redis", retry_after_s)
        self.quota_breaker = Breaker("redis", retry_after_s)

    async def verify(self, token: str) -> Principal | None:
        """The token's Principal (None: unknown, revoked or expired); Unavailable when the store cannot say."""
        done, principal = self.keys.known(token)  # the master key and cached keys need no store
        if done:
            return principal
        return await bounded(
            "redis",
            self.keys.verify(token),
            timeout_s=self.timeout_s,
            retry_after_s=self.retry_after_s,
            breaker=self.keys_breaker,
        )

    async def count(self, principal: Principal | None, address: str | None) -> Verdict:
        """One request against its quota (limits must be on); UNCOUNTED while the store is unreachable."""
        assert self.limits is not None
        try:
            return await bounded(
                "redis",
                self.limits.count(principal, address),
                timeout_s=self.timeout_s,
                retry_after_s=self.retry_after_s,
                breaker=self.quota_breaker,
            )
        except Unavailable as exc:
            log.warning("ratelimit.uncounted", reason=exc.detail)
            return UNCOUNTED


class Access:
    def __init__(self, app: ASGIApp, guard: Guard, public_reads: bool) -> None:
        self.app, self.guard, self.limits, self.public_reads = app, guard, guard.limits, public_reads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPERATIONS:
            await self.app(scope, receive, send)
            return
        principal: Principal | None = None
        header = bearer(scope)
        if header is not None:
            scheme, _, token = header.partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                await unauthorized("the Authorization header must be `Bearer <key>`", "invalid_request")(
                    scope, receive, send
                )
                return
            try:
                principal = await self.guard.verify(token)
            except Unavailable as exc:
                await unavailable(exc)(scope, receive, send)
                return
            if principal is None:
                # Counted against the address's quota: a stream of made-up keys is throttled like any other.
                refused = await self._over_quota(scope, None)
                if refused is not None:
                    await refused(scope, receive, send)
                    return
                await unauthorized("the key is unknown, revoked or expired", "invalid_token")(scope, receive, send)
                return
        elif not self.public_reads and scope["method"] in READS and not keyless(scope["path"]):
            await unauthorized("reads need a key here (PAPERWIRE_GATEWAY_PUBLIC_READS=false)")(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        if self.limits is None or (principal is not None and principal.master):
            await self.app(scope, receive, send)
            return
        verdict = await self._count(scope, principal)
        if not verdict.allowed:
            await self._too_many(verdict, principal)(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *verdict.headers]
            await send(message)

        await self.app(scope, receive, with_headers)

    async def _count(self, scope: Scope, principal: Principal | None) -> Verdict:
        client = scope.get("client")
        return await self.guard.count(principal, client[0] if client else None)

    async def _over_quota(self, scope: Scope, principal: Principal | None) -> Any:
        """The 429 answer when this request is over its quota, else None (the request was counted)."""
        if self.limits is None:
            return None
        verdict = await self._count(scope, principal)
        return None if verdict.allowed else self._too_many(verdict, principal)

    def _too_many(self, verdict: Verdict, principal: Principal | None) -> Any:
        headers = {k.decode(): v.decode() for k, v in verdict.headers}
        return problem(
            429,
            "Too Many Requests",
            f"over the quota of this {'key' if principal else 'client address'}; retry in {verdict.retry_after} s",
            headers={**headers, "Retry-After": str(verdict.retry_after)},
        )


def keyless(path: str) -> bool:
    """Read without a key even when reads are not public."""
    return path.startswith(STATIC) or EMAILED_LINKS.fullmatch(path) is not None
