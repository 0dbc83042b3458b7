"""A notifier running in-process on either backend, with the SubscriptionService the gateway uses, and the gateway
itself served on a real port (`served`), for tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from paperwire_common.backends import Backends, make_backends
from paperwire_common.clock import Clock
from paperwire_common.envelope import encode
from paperwire_common.events import TopicEvent
from paperwire_common.settings import CommonSettings
from paperwire_common.streams import TOPIC_EVENTS
from paperwire_common.subscriptions.service import NewSubscription, SubscriptionService
from paperwire_common.subscriptions.settings import NotifySettings
from paperwire_gateway.service import Gateway
from paperwire_gateway.settings import GatewaySettings
from paperwire_notifier.service import Notifier
from paperwire_notifier.settings import NotifierSettings
from tests.conftest import TEST_MASTER_KEY

FAST = {
    "retry_schedule_s": "0,0.3,0.3,0.3,0.3",
    "allow_http": True,
    "allow_networks": "127.0.0.0/8",
    "poll_interval_s": 0.05,
    "timeout_s": 2.0,
    "digest_enabled": False,
    "poll_timeout_s": 0.1,
    "batch_size": 100,
}


def backend_settings(backend: str, request: Any) -> dict[str, Any]:
    if backend == "kafka":
        return {
            "backend": "kafka",
            "kafka_bootstrap": request.getfixturevalue("kafka_bootstrap"),
            "elasticsearch_url": request.getfixturevalue("es_url"),
            "redis_url": request.getfixturevalue("redis_url"),
            "namespace": request.getfixturevalue("namespace"),
        }
    return {"backend": "embedded"}


@dataclass
class Rig:
    backends: Backends
    notifier: Notifier
    service: SubscriptionService

    async def webhook(
        self, url: str, events: tuple[str, ...] = ("topic.created",), owner: str = "alice", **kw: Any
    ) -> tuple[str, str]:
        created = await self.service.create(owner, NewSubscription("webhook", url=url, events=events, **kw))
        assert created.secret is not None
        return created.subscription.id, created.secret

    async def publish_topic(self, ev: TopicEvent) -> None:
        await self.backends.bus.publish(
            [encode(TOPIC_EVENTS, ev, key=ev.topic_id, event_id=ev.id, source="test", time=ev.detected_at)]
        )


@asynccontextmanager
async def notify_rig(
    common: dict[str, Any], clock: Clock | None = None, backends: Backends | None = None, **settings: Any
) -> AsyncIterator[Rig]:
    b = backends or make_backends(CommonSettings(**{"embeddings": False, **common}))
    own = backends is None
    if own:
        await b.start()
    ns = NotifierSettings(**{**FAST, **settings})
    notifier = Notifier(b, ns, clock=clock)
    service = SubscriptionService(notifier.subscriptions, notifier.deliveries, ns, notifier.public, clock=clock)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(notifier.loop().run(stop)), asyncio.create_task(notifier.run_deliveries(stop))]
    try:
        yield Rig(b, notifier, service)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        if own:
            await b.stop()


@asynccontextmanager
async def served(backends: Backends, port: int, clock: Clock | None = None, **notify: Any) -> AsyncIterator[Gateway]:
    """The gateway on 127.0.0.1:port (uvicorn, as `paperwire run gateway` serves it), master key TEST_MASTER_KEY
    (tests.conftest.mint_key makes keys with it)."""
    settings = GatewaySettings(host="127.0.0.1", port=port, grpc_port=0)
    gw = Gateway(backends, settings, clock=clock, notify_settings=NotifySettings(**notify), master_key=TEST_MASTER_KEY)
    stop = asyncio.Event()
    task = asyncio.create_task(gw.run(stop))
    deadline = time.monotonic() + 30
    while not gw.started:
        if task.done() or time.monotonic() > deadline:
            raise RuntimeError(f"the gateway did not start: {task.exception() if task.done() else 'timeout'}")
        await asyncio.sleep(0.02)
    try:
        yield gw
    finally:
        stop.set()
        await task
