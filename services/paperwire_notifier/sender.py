"""Webhook requests: Standard Webhooks headers, the SSRF guard at connect time, no redirects, bounded time and
bounded reads.

One aiohttp session for every endpoint: its connector resolves through GuardedResolver with no DNS cache (every new
connection is resolved and checked again: DNS rebinding), and address literals are checked before the request
(aiohttp does not resolve those)."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from paperwire_common.clock import Clock, SystemClock
from paperwire_common.deliveries.port import Delivery
from paperwire_common.events import SubscriptionRecord
from paperwire_common.webhooks import signing
from paperwire_common.webhooks.ssrf import GuardedResolver, TargetPolicy, UnsafeTarget, parse_target

from .handlers import Result, http_result, retry_after

USER_AGENT = "Paperwire-Webhooks/1.0 (+https://www.standardwebhooks.com/)"


class WebhookSender:
    def __init__(
        self,
        policy: TargetPolicy,
        *,
        timeout_s: float,
        max_response_bytes: int,
        max_connections: int,
        clock: Clock | None = None,
    ) -> None:
        self.policy, self.timeout_s, self.max_bytes = policy, timeout_s, max_response_bytes
        self.max_connections = max_connections
        self.clock = clock or SystemClock()
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(self.policy),  # type: ignore[arg-type]
                use_dns_cache=False,
                limit=self.max_connections,
                limit_per_host=0,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                headers={"User-Agent": USER_AGENT},
                auto_decompress=False,
                trust_env=False,  # never through an HTTP(S)_PROXY the guard cannot see past
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, sub: SubscriptionRecord, d: Delivery) -> Result:
        started = time.perf_counter()

        def failed(error: str, permanent: bool = False) -> Result:
            return Result(False, time.perf_counter() - started, error=error, permanent=permanent)

        if not sub.url:
            return failed("the subscription has no url", permanent=True)
        try:
            parse_target(sub.url, self.policy)
        except UnsafeTarget as e:
            return failed(f"refused target: {e}")
        now = self.clock.now()
        headers = {**signing.headers(sub.secrets, d.id, now, d.body), "Content-Type": "application/json"}
        try:
            async with self._client().post(sub.url, data=d.body, headers=headers, allow_redirects=False) as resp:
                if self.max_bytes:
                    await resp.content.read(self.max_bytes)  # never more than this, whatever the endpoint sends
                ra = retry_after(resp.headers.get("Retry-After"), now)
                return http_result(resp.status, time.perf_counter() - started, ra)
        except UnsafeTarget as e:
            return failed(f"refused target: {e}")
        except TimeoutError:
            return failed(f"timeout after {self.timeout_s:g}s")
        except aiohttp.ClientConnectorError as e:
            cause = e.os_error if isinstance(e.os_error, UnsafeTarget) else None
            return failed(f"refused target: {cause}" if cause else f"connection error: {e.strerror or e}")
        except (aiohttp.ClientError, OSError) as e:
            if isinstance(e.__cause__, UnsafeTarget):
                return failed(f"refused target: {e.__cause__}")
            return failed(f"connection error: {type(e).__name__}: {e}"[:500])
        except asyncio.CancelledError:
            raise
