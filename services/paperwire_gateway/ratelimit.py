"""Quotas per API key and, without a key, per client address: the `limits` library's sliding window counter, in
Redis on the kafka backend (one quota shared by every replica) and in memory when embedded.

Every answer carries the IETF httpapi ratelimit-headers fields (draft-ietf-httpapi-ratelimit-headers-09 and
later): `RateLimit-Policy: "key";q=600;w=60` (quota q per window of w seconds) and `RateLimit: "key";r=42;t=17`
(r requests remaining, t seconds until the quota has room again). Over the quota: 429 with `Retry-After`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from paperwire_common.keys import Principal
from paperwire_common.settings import CommonSettings

from .settings import GatewaySettings


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    headers: list[tuple[bytes, bytes]]
    retry_after: int  # seconds (only meaningful when refused)


class Quota:
    def __init__(self, name: str, item: RateLimitItem) -> None:
        self.name, self.item = name, item
        self.policy = f'"{name}";q={item.amount};w={item.get_expiry()}'.encode()


class RateLimits:
    def __init__(self, storage: Any, key_quota: str, anonymous_quota: str) -> None:
        self.storage = storage
        self.limiter = SlidingWindowCounterRateLimiter(storage)
        self.key = Quota("key", parse(key_quota))
        self.anonymous = Quota("anonymous", parse(anonymous_quota))

    async def check(self, identity: str, quota: Quota) -> Verdict:
        """Count one request of `identity` against `quota`."""
        allowed = await self.limiter.hit(quota.item, identity)
        reset, remaining = await self.limiter.get_window_stats(quota.item, identity)
        wait = max(0, math.ceil(reset - time.time()))
        headers = [
            (b"ratelimit-policy", quota.policy),
            (b"ratelimit", f'"{quota.name}";r={remaining};t={wait}'.encode()),
        ]
        return Verdict(allowed, headers, max(1, wait))

    async def count(self, principal: Principal | None, address: str | None) -> Verdict:
        """One request (REST or gRPC: they share the quotas) of this key, or without a key of this client address."""
        if principal is not None:
            return await self.check("key:" + principal.key_id, self.key)
        return await self.check("addr:" + (address or "unknown"), self.anonymous)


def make_rate_limits(common: CommonSettings, settings: GatewaySettings) -> RateLimits | None:
    """The quotas of the settings on the backend's storage; None when rate limiting is off."""
    if not settings.rate_limits:
        return None
    storage: Any
    if common.backend == "kafka":
        storage = RedisStorage(
            "async+" + common.redis_url,
            implementation="redispy",
            key_prefix=f"{common.namespace}paperwire:ratelimit",
        )
    else:
        storage = MemoryStorage()
    return RateLimits(storage, settings.rate_limit_key, settings.rate_limit_anonymous)
