"""kill -9 the notifier (`paperwire run notifier`, its own process, Kafka backend) between two attempts of a
delivery whose receiver answers 503 three times: after a restart the delivery completes, exactly once, with the
same webhook-id on every attempt and every attempt in the delivery log."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from paperwire_common.backends import make_backends
from paperwire_common.deliveries import Attempt
from paperwire_common.events import TopicEvent
from paperwire_common.settings import CommonSettings
from paperwire_common.subscriptions.service import NewSubscription, SubscriptionService
from paperwire_notifier.service import Notifier
from paperwire_notifier.settings import NotifierSettings
from tests.conftest import ROOT, free_port
from tests.notify_kit import Receivers, eventually

pytestmark = [pytest.mark.kafka, pytest.mark.elasticsearch, pytest.mark.redis, pytest.mark.slow]
SCHEDULE = "0,1,6,1,1"  # attempt 3 comes 6 s after attempt 2: the notifier is killed in between


def start_notifier(namespace: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PAPERWIRE_BACKEND": "kafka",
        "PAPERWIRE_NAMESPACE": namespace,
        "PAPERWIRE_EMBEDDINGS": "false",
        "PAPERWIRE_NOTIFIER_HEALTH_PORT": str(port),
        "PAPERWIRE_NOTIFIER_RETRY_SCHEDULE_S": SCHEDULE,
        "PAPERWIRE_NOTIFIER_ALLOW_HTTP": "true",
        "PAPERWIRE_NOTIFIER_ALLOW_NETWORKS": "127.0.0.0/8",
        "PAPERWIRE_NOTIFIER_POLL_INTERVAL_S": "0.1",
        "PAPERWIRE_NOTIFIER_TIMEOUT_S": "2",
        "PAPERWIRE_NOTIFIER_DIGEST_ENABLED": "false",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "paperwire_cli.main", "run", "notifier"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def ready(port: int) -> bool:
    try:
        async with httpx.AsyncClient() as c:
            return (await c.get(f"http://127.0.0.1:{port}/readyz", timeout=1)).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.timeout(300)
async def test_kill_9_between_attempts_then_delivered_exactly_once(
    kafka_bootstrap: str, es_url: str, redis_url: str, namespace: str, receivers: Receivers
) -> None:
    b = make_backends(CommonSettings(backend="kafka", namespace=namespace, embeddings=False))
    await b.start()
    proc = None
    try:
        ns = NotifierSettings(allow_http=True, allow_networks="127.0.0.0/8")
        local = Notifier(b, ns)  # only for its stores: this process sends nothing
        svc = SubscriptionService(local.subscriptions, local.deliveries, ns, local.public)
        flaky = receivers.add(script=[503, 503, 503])
        created = await svc.create("alice", NewSubscription("webhook", url=flaky.url, events=("topic.created",)))
        flaky.secret = created.secret or ""

        port = free_port()
        proc = start_notifier(namespace, port)
        await eventually(lambda: ready(port), timeout_s=90, every_s=0.3)
        from tests.e2e.notify_rig import Rig

        ev = TopicEvent(
            id="topic.created:tp-9",
            kind="topic.created",
            topic_id="tp-9",
            label="quantum error correction",
            paper_ids=["arxiv:2501.00009"],
            detected_at=time.time() + 1,
        )
        await Rig(b, local, svc).publish_topic(ev)
        await eventually(lambda: len(flaky.requests) == 2, timeout_s=60)
        proc.send_signal(signal.SIGKILL)  # between attempt 2 and attempt 3
        proc.wait(10)
        assert len(flaky.requests) == 2

        proc = start_notifier(namespace, port)
        await eventually(lambda: flaky.ok(), timeout_s=90)
        await asyncio.sleep(3)  # anything sent twice would arrive by now
        assert flaky.answered == [503, 503, 503, 200] and not flaky.rejected
        assert len({r.headers["webhook-id"] for r in flaky.requests}) == 1
        log: list[Attempt] = await svc.attempts("alice", created.subscription.id)
        assert [(a.attempt, a.outcome) for a in reversed(log)] == [
            (1, "retry"),
            (2, "retry"),
            (3, "retry"),
            (4, "delivered"),
        ]
        assert await local.deliveries.pending() == 0
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        await b.stop()
