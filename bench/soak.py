"""A mixed-load soak on the real backends: papers ingested, engagement posted through the gateway and searches,
each at a steady rate for --minutes, against the enricher, indexer, trending and gateway as separate processes.

Every 10 s it samples each service's RSS and the consumer lag its /metrics reports. At the end it prints, per
process, the RSS slope after the warm-up (least squares, MB per hour: flat means no leak), the largest lag seen,
errors by kind, request latencies, and — when Prometheus answers (PAPERWIRE_PROMETHEUS_URL, the `make infra-up`
one) — which Grafana panel queries returned data over the soak (the services are its targets meanwhile).

  python bench/soak.py --minutes 30 [--papers-per-s 20 --events-per-s 200 --searches-per-s 5 --seed-papers 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import grpc
import httpx

from bench.cleanup import drop_namespace_topics
from bench.procs import rss_mb

WORDS = "graph learning language models transformer attention diffusion retrieval vision robot policy".split()


def slope_per_hour(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB), in MB per hour."""
    if len(samples) < 3:
        return float("nan")
    xs, ys = [t for t, _ in samples], [m for _, m in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var * 3600 if var else float("nan")


async def steady(rate: float, seconds: float, action: Any) -> None:
    """Call `action()` `rate` times a second for `seconds`, on a fixed schedule (late calls are not made up twice)."""
    t0, i = time.monotonic(), 0
    while (now := time.monotonic() - t0) < seconds:
        due = i / rate
        if due > now:
            await asyncio.sleep(due - now)
        i += 1
        await action()


def lag_of(metrics_text: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics_text.splitlines()
        if line.startswith("paperwire_consumer_lag{")
    )


async def run(a: argparse.Namespace) -> None:
    from paperwire.v1 import papers_pb2, papers_pb2_grpc
    from paperwire_common.backends import make_backends
    from paperwire_common.settings import CommonSettings
    from paperwire_ingestor.records import SourceRecord
    from paperwire_ingestor.service import Ingestor
    from paperwire_ingestor.settings import IngestorSettings
    from tests.faults import check
    from tests.faults.dashboards import panel_queries
    from tests.faults.prom import Prometheus
    from tests.faults.stack import MASTER_AUTH, Stack
    from tests.faults.workload import corpus

    ns = f"soak{uuid.uuid4().hex[:6]}-"
    common = CommonSettings(backend="kafka", namespace=ns, embeddings=False)
    endpoints = {
        "PAPERWIRE_KAFKA_BOOTSTRAP": common.kafka_bootstrap,
        "PAPERWIRE_ELASTICSEARCH_URL": common.elasticsearch_url,
        "PAPERWIRE_REDIS_URL": common.redis_url,
    }
    try:
        prom: Prometheus | None = Prometheus(os.environ.get("PAPERWIRE_PROMETHEUS_URL", "http://127.0.0.1:9090"))
    except Exception as e:
        print(f"  no Prometheus ({e!r}): dashboards not checked", file=sys.stderr)
        prom = None
    b = make_backends(common, client_id="paperwire-soak")
    await b.start()
    stack = Stack(ns, endpoints, ROOT / "bench" / "out" / "logs" / ns.rstrip("-"), prom, test="soak")
    duration = a.minutes * 60
    total_papers = a.seed_papers + int(a.papers_per_s * duration) + 1000
    papers = corpus(total_papers, 11)
    records = [SourceRecord(title=p["title"], abstract=p["abstract"], position=str(i)) for i, p in enumerate(papers)]
    errors: Counter[str] = Counter()
    latency: dict[str, list[float]] = {"search": [], "events": []}
    # The ingestor (this process) is a target too, as a one-shot job's pushgateway would be; the gateway serves
    # gRPC as well: every panel of the dashboard has something to show.
    from prometheus_client import CollectorRegistry, start_http_server

    from paperwire_common.metrics import INGESTED
    from tests.conftest import free_port

    registry = CollectorRegistry()
    registry.register(INGESTED)
    metrics_port, grpc_port = free_port(), free_port()
    server, _ = start_http_server(metrics_port, "127.0.0.1", registry=registry)
    if prom is not None:
        labels = {"component": "ingestor", "namespace": ns, "test": "soak"}
        prom.register(f"{ns}ingestor", "paperwire-workers", [(f"127.0.0.1:{metrics_port}", labels)])
    try:
        for name in ("enricher", "indexer", "trending"):
            stack.add(name, PAPERWIRE_LOG_LEVEL="WARNING")
        # A key of its own with a quota the load never reaches: every request is verified and counted in Redis.
        stack.add(
            "gateway",
            PAPERWIRE_LOG_LEVEL="WARNING",
            PAPERWIRE_GATEWAY_RATE_LIMIT_KEY="100000/minute",
            grpc_port=str(grpc_port),
        )
        await asyncio.to_thread(stack.wait_ready, 180)
        gateway = stack.by_name("gateway")[0]
        ing = Ingestor(b, IngestorSettings(progress=False, batch_size=100))
        await ing.ingest(records[: a.seed_papers], "jsonl")
        while await check.index_count(common.elasticsearch_url, ns) < a.seed_papers:
            await asyncio.sleep(2)
        known = list((await b.index.snapshot()).keys())
        print(f"  seeded {len(known)} papers; soaking for {a.minutes} min", file=sys.stderr)
        rng = random.Random(5)
        next_paper = a.seed_papers
        start = time.time()
        made = httpx.post(
            f"{gateway.url}/v1/keys", json={"name": "soak", "scopes": ["events:write"]}, headers=MASTER_AUTH
        )
        made.raise_for_status()
        auth = {"Authorization": f"Bearer {made.json()['key']}"}
        grpc_auth = (("authorization", auth["Authorization"]),)
        http = httpx.AsyncClient(base_url=gateway.url, timeout=30, headers=auth)

        async def ingest_one() -> None:
            nonlocal next_paper
            try:
                await ing.ingest([records[next_paper]], "jsonl")
            except Exception as e:
                errors[f"ingest {type(e).__name__}"] += 1
            next_paper += 1

        async def post_events() -> None:
            body = [
                {
                    "paper_id": rng.choice(known),
                    "type": rng.choice(["view", "download", "upvote"]),
                    "actor_id": f"a{rng.randrange(10**9)}",
                    "ts": time.time() - 5,
                }
                for _ in range(50)
            ]
            t = time.monotonic()
            try:
                r = await http.post("/v1/events", json=body)
                if r.status_code != 202:
                    errors[f"events {r.status_code}"] += 1
            except httpx.HTTPError as e:
                errors[f"events {type(e).__name__}"] += 1
            latency["events"].append(time.monotonic() - t)

        channel = grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}")
        papers_rpc = papers_pb2_grpc.PapersStub(channel)
        searches = 0

        async def search() -> None:
            nonlocal searches
            searches += 1
            q = " ".join(rng.sample(WORDS, 2))
            t = time.monotonic()
            try:
                if searches % 5 == 0:  # one in five through gRPC
                    await papers_rpc.Search(papers_pb2.SearchRequest(q=q, mode="keyword"), metadata=grpc_auth)
                else:
                    r = await http.get("/v1/search", params={"q": q, "mode": "keyword"})
                    if r.status_code != 200:
                        errors[f"search {r.status_code}"] += 1
            except (httpx.HTTPError, grpc.RpcError) as e:
                errors[f"search {type(e).__name__}"] += 1
            latency["search"].append(time.monotonic() - t)

        rss: dict[str, list[tuple[float, float]]] = {s.label: [] for s in stack.services}
        max_lag = 0.0

        async def sample() -> None:
            nonlocal max_lag
            t = time.time() - start
            lag = 0.0
            for s in stack.services:
                assert s.proc is not None
                m = rss_mb(s.proc.pid)
                if m is not None:
                    rss[s.label].append((t, m))
                if s.name != "gateway":
                    try:
                        lag += lag_of((await http.get(f"{s.url}/metrics")).text)
                    except httpx.HTTPError:
                        errors[f"metrics {s.label}"] += 1
            max_lag = max(max_lag, lag)
            stack.check_alive()

        await asyncio.gather(
            steady(a.papers_per_s, duration, ingest_one),
            steady(a.events_per_s / 50, duration, post_events),
            steady(a.searches_per_s, duration, search),
            steady(0.1, duration, sample),
        )
        end = time.time()
        await http.aclose()
        await channel.close()
        await asyncio.sleep(5)  # one more scrape of the ingestor's counters
        warm = a.warmup_minutes * 60
        print(
            f"\nsoak: {a.minutes} min, {a.papers_per_s} papers/s, {a.events_per_s} events/s (gateway), "
            f"{a.searches_per_s} searches/s, {os.cpu_count()} cores"
        )
        print(f"{'process':16} {'RSS start MB':>13} {'RSS end MB':>11} {'slope after warm-up MB/h':>25}")
        for label, pts in rss.items():
            after = [(t, m) for t, m in pts if t >= warm]
            print(
                f"{label:16} {pts[0][1] if pts else float('nan'):13.0f} {pts[-1][1] if pts else float('nan'):11.0f} "
                f"{slope_per_hour(after):25.1f}"
            )
        print(f"max consumer lag (sum over services): {max_lag:.0f}")
        for kind, xs in latency.items():
            if xs:
                q = statistics.quantiles(xs, n=100)
                print(f"{kind:7} requests {len(xs):7d}  p50 {q[49] * 1000:6.1f} ms  p99 {q[98] * 1000:7.1f} ms")
        print(f"errors: {dict(errors) or 'none'}")
        if prom is not None:
            empty = []
            for where, expr in panel_queries():
                if expr.startswith("label_values("):
                    continue
                if not prom.query_range(expr, start, end, step="30s"):
                    empty.append(where)
            print(
                f"dashboard panel queries with data over the soak: {len(panel_queries()) - len(empty)} of "
                f"{len(panel_queries())}" + (f"; empty: {empty}" if empty else "")
            )
    finally:
        stack.close()
        server.shutdown()
        if prom is not None:
            prom.unregister(f"{ns}ingestor")
        await b.index.es.options(ignore_status=404).indices.delete(index=f"{ns}papers-v1")  # type: ignore[attr-defined]
        await b.stop()
        await drop_namespace_topics(common.kafka_bootstrap, ns)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--warmup-minutes", type=float, default=5)
    ap.add_argument("--seed-papers", type=int, default=20_000)
    ap.add_argument("--papers-per-s", type=float, default=20)
    ap.add_argument("--events-per-s", type=float, default=200)
    ap.add_argument("--searches-per-s", type=float, default=5)
    a = ap.parse_args()
    from paperwire_common.logging import configure_logging

    configure_logging("WARNING")
    asyncio.run(run(a))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
