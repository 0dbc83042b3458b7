"""Fan-out: one topic.created event on topics.v1 to N webhook subscriptions on loopback receivers, a share of which
time out (they answer after the notifier's timeout). Times from the publish on topics.v1 to the last 2xx of the
healthy receivers (every delivery verified by `standardwebhooks`), on the Kafka backend (Redis outbox) or embedded.
The notifier and the receivers share this process (and the box): the numbers include the receivers' own cost.

    python bench/notifier_fanout.py --subscriptions 1000 --timing-out 0.1 --backend kafka
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from paperwire_common.events import TopicEvent
from tests.e2e.notify_rig import notify_rig
from tests.notify_kit import Receivers


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subscriptions", type=int, default=1000)
    ap.add_argument("--timing-out", type=float, default=0.1, help="share of receivers that never answer in time")
    ap.add_argument("--backend", choices=["kafka", "embedded"], default="kafka")
    ap.add_argument("--timeout-s", type=float, default=5.0, help="the notifier's attempt timeout")
    args = ap.parse_args()
    common: dict[str, object] = {"backend": args.backend}
    if args.backend == "kafka":
        common["namespace"] = f"bench{uuid.uuid4().hex[:8]}-"
    rs = Receivers()
    await rs.start()
    n_slow = int(args.subscriptions * args.timing_out)
    try:
        async with notify_rig(common, timeout_s=args.timeout_s, poll_interval_s=0.2) as rig:
            t0 = time.perf_counter()
            receivers = []
            for i in range(args.subscriptions):
                r = rs.add(delay_s=args.timeout_s + 5 if i < n_slow else 0.0)
                r.secret = (await rig.webhook(r.url))[1]
                receivers.append(r)
            print(f"{args.subscriptions} subscriptions created in {time.perf_counter() - t0:.1f} s ({args.backend})")
            await asyncio.sleep(1.0)  # every process's view has them
            healthy = receivers[n_slow:]
            ev = TopicEvent(
                id=f"topic.created:bench-{uuid.uuid4().hex[:6]}",
                kind="topic.created",
                topic_id="tp-b",
                label="benchmark topic",
                detected_at=time.time() + 1,
            )
            start = time.perf_counter()
            await rig.publish_topic(ev)
            while sum(1 for r in healthy if r.ok()) < len(healthy):
                if time.perf_counter() - start > 120:
                    break
                await asyncio.sleep(0.01)
            done = sum(1 for r in healthy if r.ok())
            last = max((r.ok()[0].at for r in healthy if r.ok()), default=time.time())
            elapsed = last - (time.time() - (time.perf_counter() - start))
            rejected = sum(len(r.rejected) for r in receivers)
            print(
                f"event -> last 2xx: {elapsed:.2f} s for {done}/{len(healthy)} healthy receivers "
                f"({n_slow} timing out after {args.timeout_s:g}s); signature failures: {rejected}"
            )
    finally:
        await rs.stop()
        if args.backend == "kafka":
            await drop_namespace(str(common["namespace"]))


async def drop_namespace(namespace: str) -> None:
    """The run's topics (subscriptions.v1 among them) and its Redis keys (the outbox, the subscription locks)."""
    from redis.asyncio import Redis

    from bench.cleanup import drop_namespace_topics
    from paperwire_common.settings import CommonSettings

    settings = CommonSettings()
    await drop_namespace_topics(settings.kafka_bootstrap, namespace)
    r = Redis.from_url(settings.redis_url)
    try:
        keys = [k async for k in r.scan_iter(match=f"{namespace}*", count=1000)]
        for i in range(0, len(keys), 500):
            await r.delete(*keys[i : i + 500])
    finally:
        await r.aclose()


if __name__ == "__main__":
    asyncio.run(main())
