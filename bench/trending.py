"""Engagement events/s from Kafka into Redis through the trending scorer, beside redis-benchmark's pipelined
ZINCRBY on the same Redis (ratio printed). Needs `make infra-up`.

  python bench/trending.py --events 200000 [--papers 5000] [--batch 5000]

The scorer runs in this process (one core); events are pre-published to a fresh namespace so only
consume -> score -> Redis (+ commit) is timed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

T0 = 1_767_225_600.0


async def run(n_events: int, n_papers: int, batch: int) -> tuple[float, int]:
    from bench.cleanup import drop_namespace_topics
    from paperwire_common.backends import make_backends
    from paperwire_common.envelope import encode
    from paperwire_common.events import Author, Engagement, PaperEnriched, PaperRaw
    from paperwire_common.runtime import settle_heap
    from paperwire_common.settings import CommonSettings
    from paperwire_common.streams import ENGAGEMENT, PAPERS_ENRICHED
    from paperwire_trending.service import Trending
    from paperwire_trending.settings import TrendingSettings

    ns = f"bench{uuid.uuid4().hex[:6]}-"
    b = make_backends(CommonSettings(backend="kafka", namespace=ns, embeddings=False))
    await b.start()
    rng = random.Random(3)
    papers = [f"title:{i:08x}" for i in range(n_papers)]
    announce = []
    for i, pid in enumerate(papers):
        raw = PaperRaw(
            paper_id=pid,
            version=1,
            content_hash=f"{i:016x}",
            title=f"Paper {i}",
            source="bench",
            authors=[Author(name="A")],
            ingested_at=T0 - 3600,
        )
        e = PaperEnriched(paper=raw, enriched_at=T0 - 3600)
        announce.append(encode(PAPERS_ENRICHED, e, key=pid, event_id=f"p{i}", source="bench", time=T0))
    await b.bus.publish(announce)
    kinds = ["view"] * 6 + ["upvote", "download", "mention", "comment"]
    # Zipf-like popularity: a few papers get most of the engagement, as on a real site.
    weights = [1.0 / (r + 1) for r in range(n_papers)]
    chosen = rng.choices(papers, weights=weights, k=n_events)
    msgs = []
    for i, pid in enumerate(chosen):
        ev = Engagement(
            id=f"e{i}", paper_id=pid, type=rng.choice(kinds), actor_id=f"u{rng.randrange(50_000)}", ts=T0 + i * 0.01
        )
        msgs.append(encode(ENGAGEMENT, ev, key=pid, event_id=ev.id, source="bench", time=T0))
    for i in range(0, len(msgs), 20_000):
        await b.bus.publish(msgs[i : i + 20_000])
    print(f"  published {n_papers} papers and {n_events} events to {ns}*", file=sys.stderr)
    # Like a service after start-up (paperwire_cli.runner): the bench's own messages freed, the heap settled.
    del msgs, announce, chosen
    settle_heap()

    trending = Trending(b, TrendingSettings(batch_size=batch))
    loop = trending.loop()
    await loop.consumer.start()
    loop.started = True
    total = n_events + n_papers
    done = 0
    t = time.monotonic()
    while done < total:
        done += await loop.run_once()
    took = time.monotonic() - t
    await loop.consumer.stop()
    await trending.store.reset()
    es = b.index.es.options(ignore_status=404)  # type: ignore[attr-defined]
    await es.indices.delete(index=f"{ns}papers-v1")
    await es.indices.delete(index=f"{ns}papers-topics")
    await b.stop()
    await drop_namespace_topics(b.settings.kafka_bootstrap, ns)
    return took, done


def redis_benchmark(n: int) -> float:
    out = subprocess.run(
        [
            "redis-benchmark",
            "-q",
            "-n",
            str(n),
            "-P",
            "64",
            "-r",
            "5000",
            "ZINCRBY",
            "bench:zincrby",
            "1",
            "member:__rand_int__",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    m = re.search(r"([\d.]+) requests per second", out)
    if not m:
        raise RuntimeError(f"cannot read redis-benchmark output: {out!r}")
    subprocess.run(["redis-cli", "DEL", "bench:zincrby"], capture_output=True, check=False)
    return float(m.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--papers", type=int, default=5_000)
    ap.add_argument("--batch", type=int, default=5_000)
    a = ap.parse_args()
    from paperwire_common.logging import configure_logging

    configure_logging("WARNING")
    took, done = asyncio.run(run(a.events, a.papers, a.batch))
    rate = done / took
    zincr = redis_benchmark(1_000_000)
    print(
        f"\ntrending scorer, {a.events} engagement events + {a.papers} papers, batch {a.batch}, {os.cpu_count()} cores"
    )
    print(f"{'kafka -> scorer -> redis (this process)':44} {took:8.1f} s {rate:12,.0f} events/s")
    print(f"{'redis-benchmark ZINCRBY, pipeline 64':44} {'':8}   {zincr:12,.0f} ops/s")
    print(f"ratio scorer / raw ZINCRBY: {rate / zincr:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
