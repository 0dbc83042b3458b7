"""Webhooks end to end on both backends: signed (verified by `standardwebhooks`), retried on the schedule with the
same webhook-id, delivered exactly once, every attempt in the delivery log; 410 disables; exhausted -> dead letter."""

from __future__ import annotations

import time
from typing import Any

import pytest

from paperwire_common.deliveries import Attempt
from paperwire_common.events import TopicEvent
from tests.notify_kit import Receivers, eventually

from .notify_rig import backend_settings, notify_rig

BACKENDS = ["embedded", pytest.param("kafka", marks=[pytest.mark.kafka, pytest.mark.elasticsearch, pytest.mark.redis])]


@pytest.fixture(params=BACKENDS)
def common(request: pytest.FixtureRequest) -> dict[str, Any]:
    return backend_settings(request.param, request)


def topic_event(topic_id: str = "tp-1", label: str = "diffusion models for video", n: int = 1) -> TopicEvent:
    return TopicEvent(
        id=f"topic.created:{topic_id}:{n}",
        kind="topic.created",
        topic_id=topic_id,
        label=label,
        keyphrases=["video diffusion"],
        paper_ids=["arxiv:2401.00001"],
        detected_at=time.time() + 1,
    )


async def test_retries_then_delivers_once_with_the_same_webhook_id(
    common: dict[str, Any], receivers: Receivers
) -> None:
    flaky = receivers.add(script=[503, 503, 503])
    async with notify_rig(common) as rig:
        sid, secret = await rig.webhook(flaky.url)
        flaky.secret = secret
        await rig.publish_topic(topic_event())
        await eventually(lambda: flaky.ok(), timeout_s=30)

        async def settled() -> bool:
            return await rig.notifier.deliveries.pending() == 0

        await eventually(settled, timeout_s=10)
        await eventually(lambda: len(flaky.requests) == 4, timeout_s=5)
        assert flaky.answered == [503, 503, 503, 200] and not flaky.rejected
        ids = {r.headers["webhook-id"] for r in flaky.requests}
        assert len(ids) == 1 and ids.pop().startswith("msg_")
        body = flaky.requests[-1].payload
        assert body["type"] == "topic.created" and body["data"]["label"] == "diffusion models for video"
        assert body["data"]["url"].endswith("/v1/topics/tp-1")
        log: list[Attempt] = await rig.service.attempts("alice", sid)
        assert [(a.attempt, a.outcome, a.status_code) for a in reversed(log)] == [
            (1, "retry", 503),
            (2, "retry", 503),
            (3, "retry", 503),
            (4, "delivered", 200),
        ]
        assert all(a.next_attempt_at for a in log[1:]) and log[0].next_attempt_at is None
        # Replaying the same event (a consumer restart) queues nothing new.
        await rig.publish_topic(topic_event())
        time.sleep(0.5)
        assert len(flaky.ok()) == 1


async def test_topic_filter_and_event_kinds(common: dict[str, Any], receivers: Receivers) -> None:
    everything, other_topic, trending_only = receivers.add(), receivers.add(), receivers.add()
    async with notify_rig(common) as rig:
        everything.secret = (await rig.webhook(everything.url))[1]
        other_topic.secret = (await rig.webhook(other_topic.url, topics=("tp-other",)))[1]
        trending_only.secret = (await rig.webhook(trending_only.url, events=("topic.trending",)))[1]
        await rig.publish_topic(topic_event("tp-7", "protein folding"))
        await eventually(lambda: everything.ok())
        time.sleep(0.5)
        assert len(everything.ok()) == 1 and other_topic.requests == [] and trending_only.requests == []


async def test_gone_disables_and_exhausted_is_dead_lettered(common: dict[str, Any], receivers: Receivers) -> None:
    gone, broken = receivers.add(default=410), receivers.add(default=500)
    async with notify_rig(common, retry_schedule_s="0,0.1,0.1") as rig:
        gid, gone.secret = await rig.webhook(gone.url)
        bid, broken.secret = await rig.webhook(broken.url)
        await rig.publish_topic(topic_event())

        async def disabled() -> bool:
            s = await rig.notifier.subscriptions.get(gid)
            return s is not None and s.status == "disabled"

        await eventually(disabled)
        sub = await rig.service.get("alice", gid)
        assert sub.status_reason is not None and "410" in sub.status_reason
        await eventually(lambda: len(broken.requests) == 3)

        async def dead() -> list[Any]:
            return [d for d in await rig.notifier.deliveries.dead_letters() if d.subscription_id == bid]

        (d,) = await eventually(dead)
        assert d.reason == "3 attempts failed; last: HTTP 500"
        time.sleep(0.5)
        assert len(broken.requests) == 3 and len(gone.requests) == 1
        # Later events to the disabled endpoint are not sent; the reason is in the dead letter.
        await rig.publish_topic(topic_event("tp-2", "graph transformers"))

        async def refused() -> list[Any]:
            return [
                d
                for d in await rig.notifier.deliveries.dead_letters()
                if d.subscription_id == gid and "disabled" in (d.reason or "")
            ]

        await eventually(refused)
        assert len(gone.requests) == 1
