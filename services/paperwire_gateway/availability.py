"""The backends a request needs, bounded: one that does not answer in time, or cannot be reached, makes a 503 with
Retry-After naming it — never a hang, never a bare 500.

Writes are safe to retry: every event has an id (given by the client or derived from its fields), so an event
whose first attempt reached Kafka after all counts once. While Kafka is known to be unreachable (a publish failed
within the last Retry-After seconds) writes fail at once instead of each waiting out the timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from elastic_transport import TransportError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from paperwire_common.bus.kafka import BusUnavailable

T = TypeVar("T")


def _kafka_errors() -> tuple[type[Exception], ...]:
    from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError, RequestTimedOutError

    return (BusUnavailable, KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError, RequestTimedOutError)


# What each backend's client raises when it cannot be reached (a server's own 4xx answers are not among them).
UNREACHABLE: dict[str, tuple[type[Exception], ...]] = {
    "kafka": _kafka_errors(),
    "elasticsearch": (TransportError,),
    "redis": (RedisConnectionError, RedisTimeoutError),
}


class Unavailable(Exception):
    """A backend did not answer: the request may be retried after `retry_after_s`."""

    def __init__(self, part: str, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.part, self.detail, self.retry_after_s = part, detail, retry_after_s


@dataclass
class Breaker:
    """After a failure, calls to the part fail at once for `open_s` seconds; then one is let through to try."""

    part: str
    open_s: float
    _until: float = 0.0

    def check(self) -> None:
        left = self._until - time.monotonic()
        if left > 0:
            raise Unavailable(self.part, f"{self.part} is unreachable (retry in {left:.0f}s)", max(1, round(left)))

    def failed(self) -> None:
        self._until = time.monotonic() + self.open_s

    def ok(self) -> None:
        self._until = 0.0


async def bounded(
    part: str, call: Awaitable[T], *, timeout_s: float, retry_after_s: int, breaker: Breaker | None = None
) -> T:
    """`await call`, within `timeout_s`; a timeout or a connection error of `part` becomes Unavailable."""
    if breaker is not None:
        try:
            breaker.check()
        except Unavailable:
            if asyncio.iscoroutine(call):
                call.close()  # never awaited: no "coroutine was never awaited" warning
            raise
    try:
        async with asyncio.timeout(timeout_s):
            result = await call
    except TimeoutError:
        if breaker is not None:
            breaker.failed()
        raise Unavailable(part, f"{part} did not answer within {timeout_s:g}s", retry_after_s) from None
    except UNREACHABLE[part] as e:
        if breaker is not None:
            breaker.failed()
        raise Unavailable(part, f"{part} is unreachable: {type(e).__name__}", retry_after_s) from None
    if breaker is not None:
        breaker.ok()
    return result
