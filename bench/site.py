"""Site pages beside the JSON endpoints they are built from: time per load (p50/p99 over N loads each, one at a
time, page and endpoint interleaved) and page weight (HTML + CSS + JS), on the embedded sample and on 100,000
synthetic papers on the real backends. Prints a table; nothing here asserts.

    python bench/site.py [--loads 200] [--backend both|embedded|kafka] [--papers 100000] [--keep]

embedded: `paperwire run all` on the 247-paper sample (with embeddings, so hybrid search and similar papers
          are real), plus engagement for a few papers, once the first topics exist.
kafka:    `paperwire run gateway` on Kafka + Elasticsearch + Redis in a fresh namespace (deleted at the end
          unless --keep): bench/synthetic.py's papers bulk-written through ElasticIndex.upsert, every paper
          announced to the Redis trend store through the trending service's own handler with upvotes and
          views for 2% of them, and 200 topics of 20-800 members written to the topic store, the members
          carrying their topic (in the index and the trend store, as once the topic job writes topics onto
          papers). No embeddings
          (2 cores embed ~20 papers/s): search is keyword, similar papers are text neighbours.

Times are measured by the client over loopback (an httpx keep-alive connection), so they include the same
~0.3 ms of client and HTTP overhead on both sides; the load generator, the gateway and the servers share the
machine's cores. Pairs (page : endpoint): / : /v1/feeds/trending?size=30, /latest : /v1/feeds/latest?size=30,
/topics : /v1/topics?size=50, /topics/{id} : /v1/topics/{id}, /papers/{id} : the three reads it gathers
(/v1/papers/{id}, /similar?size=6, /trending, concurrently), /search : /v1/search (keyword, size=20).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx

from bench.cleanup import drop_namespace_topics
from bench.pipeline import _free_port, corpus

SAMPLE = ROOT / "data" / "sample" / "seed_papers.jsonl"
MASTER_KEY = os.environ.get("PAPERWIRE_MASTER_KEY") or "bench-master-key-0123456789abcdef"
MASTER_AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}
# The events that make the trending pages need a key; the measured loads are anonymous and never throttled.
ACCESS = {"PAPERWIRE_MASTER_KEY": MASTER_KEY, "PAPERWIRE_GATEWAY_RATE_LIMIT_ANONYMOUS": "1000000/minute"}
QUERIES = [
    "time series",
    "language models",
    "diffusion",
    "reinforcement learning",
    "graph neural networks",
    "forecasting",
    "agents planning",
    "vision transformer",
    "retrieval augmented",
    "benchmark evaluation",
]


def pct(xs: Sequence[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


async def get_ok(c: httpx.AsyncClient, path: str) -> httpx.Response:
    r = await c.get(path)
    if r.status_code != 200:
        raise RuntimeError(f"GET {path}: {r.status_code} {r.text[:300]}")
    return r


async def measure(base: str, loads: int, backend: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        trending = (await get_ok(c, "/v1/feeds/trending?size=30")).json()["items"]
        papers = [i["id"] for i in trending[:20]]
        topics = [t["id"] for t in (await get_ok(c, "/v1/topics?size=10")).json()]
        home = (await get_ok(c, "/")).text
        assets = {
            a: len((await get_ok(c, a)).content)
            for a in sorted(set(re.findall(r'(?:href|src)="(/assets/[^"]+\.(?:css|js))"', home)))
        }
        mode = "keyword" if backend == "kafka" else "hybrid"

        def q(i: int) -> str:
            return quote(QUERIES[i % len(QUERIES)])

        async def paper_reads(i: int) -> None:
            pid = quote(papers[i % len(papers)], safe="")
            await asyncio.gather(
                get_ok(c, f"/v1/papers/{pid}"),
                get_ok(c, f"/v1/papers/{pid}/similar?size=6"),
                get_ok(c, f"/v1/papers/{pid}/trending"),
            )

        pairs: list[tuple[str, Callable[[int], str], Callable[[int], Awaitable[Any]] | None]] = [
            ("/", lambda i: "/", lambda i: get_ok(c, "/v1/feeds/trending?size=30")),
            ("/latest", lambda i: "/latest", lambda i: get_ok(c, "/v1/feeds/latest?size=30")),
            ("/topics", lambda i: "/topics", lambda i: get_ok(c, "/v1/topics?size=50")),
            (
                "/topics/{id}",
                lambda i: f"/topics/{topics[i % len(topics)]}",
                lambda i: get_ok(c, f"/v1/topics/{topics[i % len(topics)]}"),
            ),
            ("/papers/{id}", lambda i: f"/papers/{quote(papers[i % len(papers)], safe='')}", paper_reads),
            (
                "/search",
                lambda i: f"/search?q={q(i)}&mode={mode}",
                lambda i: get_ok(c, f"/v1/search?q={q(i)}&mode={mode}&size=20"),
            ),
            ("/subscribe", lambda i: "/subscribe", None),
        ]
        rows = []
        for name, page_path, json_call in pairs:
            page_ms: list[float] = []
            json_ms: list[float] = []
            sizes: list[int] = []
            for i in range(loads + 20):  # the first 20 of each are warm-up
                t0 = time.perf_counter()
                got = await get_ok(c, page_path(i))
                t_page = (time.perf_counter() - t0) * 1000
                t0 = time.perf_counter()
                if json_call is not None:
                    await json_call(i)
                t_json = (time.perf_counter() - t0) * 1000
                if i >= 20:
                    page_ms.append(t_page)
                    sizes.append(len(got.content))
                    if json_call is not None:
                        json_ms.append(t_json)
            row = {
                "page": name,
                "p50": pct(page_ms, 0.5),
                "p99": pct(page_ms, 0.99),
                "json_p50": pct(json_ms, 0.5) if json_ms else None,
                "json_p99": pct(json_ms, 0.99) if json_ms else None,
                "html_kb": max(sizes) / 1000,
                "weight_kb": (max(sizes) + sum(assets.values())) / 1000,
            }
            rows.append(row)
            print(f"  {backend} {name}: done", file=sys.stderr)
        return rows


def show(backend: str, rows: list[dict[str, Any]], note: str) -> None:
    print(f"\n{backend}: {note}")
    head = ("p50 ms", "p99 ms", "json p50", "json p99", "p99 ratio", "HTML kB", "+CSS+JS kB")
    print(f"{'page':<14}" + "".join(f"{h:>11}" for h in head))
    for r in rows:
        ratio = f"{r['p99'] / r['json_p99']:.2f}" if r["json_p99"] else "-"
        cells = [f"{r['p50']:.1f}", f"{r['p99']:.1f}"]
        cells += [f"{r[k]:.1f}" if r[k] is not None else "-" for k in ("json_p50", "json_p99")]
        cells += [ratio, f"{r['html_kb']:.1f}", f"{r['weight_kb']:.1f}"]
        print(f"{r['page']:<14}" + "".join(f"{c:>11}" for c in cells))


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float, extra: str | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the gateway process exited")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200 and (
                extra is None or httpx.get(base + extra, timeout=5).json()
            ):
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise TimeoutError(f"{base} not ready after {timeout}s")


def engage(base: str, ids: Sequence[str], seed: int = 3) -> None:
    rng, now = random.Random(seed), time.time()
    events: list[dict[str, Any]] = []
    for k, pid in enumerate(ids):
        events += [
            {"paper_id": pid, "type": "upvote", "actor_id": f"u{i}", "ts": now - rng.uniform(0, 80_000)}
            for i in range(rng.randint(0, 30))
        ]
        events += [
            {"paper_id": pid, "type": "view", "actor_id": f"v{i}", "ts": now - rng.uniform(0, 80_000)}
            for i in range(rng.randint(0, 60))
        ]
        if k % 3 == 0:
            events += [
                {"paper_id": pid, "type": "star", "actor_id": "gh", "ts": now - 7000, "stars": 10},
                {"paper_id": pid, "type": "star", "actor_id": "gh", "ts": now - 600, "stars": 10 + rng.randint(1, 300)},
            ]
    for i in range(0, len(events), 1000):
        r = httpx.post(f"{base}/v1/events", json=events[i : i + 1000], timeout=60, headers=MASTER_AUTH)
        r.raise_for_status()


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def run_embedded(loads: int) -> list[dict[str, Any]]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PAPERWIRE_EMBEDDED_DATA_DIR"}
    env |= {
        "PAPERWIRE_BACKEND": "embedded",
        "PAPERWIRE_GATEWAY_PORT": str(port),
        "PAPERWIRE_GATEWAY_GRPC_PORT": "0",
        "PAPERWIRE_LOG_LEVEL": "WARNING",
        **ACCESS,
    }
    proc = subprocess.Popen([sys.executable, "-m", "paperwire_cli.main", "run", "all"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc, 300)
        ids = [i["id"] for i in httpx.get(f"{base}/v1/feeds/latest", params={"size": 60}).json()["items"]]
        engage(base, ids)
        wait_ready(base, proc, 300, extra="/v1/topics?size=1")
        return asyncio.run(measure(base, loads, "embedded"))
    finally:
        stop(proc)


async def load_kafka(ns: str, papers: int) -> None:
    """The corpus into Elasticsearch, every paper and some engagement into the Redis trend store, topics into
    the topic store: what the pipeline's indexer, trending service and topic job would have written."""
    from paperwire_common.backends import make_backends
    from paperwire_common.bus.port import Record
    from paperwire_common.envelope import Decoded
    from paperwire_common.events import Engagement, PaperEnriched, PaperRaw
    from paperwire_common.ids import canonical_id, content_hash
    from paperwire_common.search.document import to_document
    from paperwire_common.settings import CommonSettings
    from paperwire_common.streams import ENGAGEMENT, PAPERS_ENRICHED
    from paperwire_common.topics.model import TopicRecord
    from paperwire_trending.service import Trending
    from paperwire_trending.settings import TrendingSettings

    rng = random.Random(11)
    rows = [json.loads(line) for line in corpus(papers).read_text().splitlines() if line.strip()]
    ids = [canonical_id(arxiv_id=None, doi=None, title=p["title"]) for p in rows]
    order = list(range(len(rows)))
    rng.shuffle(order)
    topic_of: dict[int, tuple[str, str]] = {}
    topics, at = [], 0
    for t in range(200):
        size = min(rng.randint(20, 800), len(rows) - at)  # 200 topics cover ~80% of 100,000 papers
        if size < 20:
            break
        members = sorted(order[at : at + size])
        at += size
        tid, label = f"tp-bench{t:04d}", " ".join(rows[members[0]]["title"].split()[:3]).lower()
        topic_of |= {m: (tid, label) for m in members}
        hist = [rng.randint(0, size // 10) for _ in range(8)]
        topics.append((tid, label, [ids[m] for m in members], hist))
    b = make_backends(CommonSettings(backend="kafka", namespace=ns, embeddings=False))
    await b.start()
    try:
        trending = Trending(b, TrendingSettings(topics_enabled=False))
        now, seen = time.time(), 0
        t0 = time.monotonic()
        for start in range(0, len(rows), 1000):
            docs, batch = [], []
            for i in range(start, min(start + 1000, len(rows))):
                p, topic = rows[i], topic_of.get(i)
                raw = PaperRaw(
                    paper_id=ids[i],
                    version=1,
                    content_hash=content_hash(p["title"], p["abstract"]),
                    title=p["title"],
                    abstract=p["abstract"],
                    source="jsonl",
                    ingested_at=now - rng.uniform(0, 30 * 86_400),
                )
                e = PaperEnriched(
                    paper=raw,
                    topics=[topic[0]] if topic else [],
                    topic_labels=[topic[1]] if topic else [],
                    enriched_at=raw.ingested_at,
                )
                docs.append(to_document(e))
                batch.append(Decoded(Record(PAPERS_ENRICHED.name, ids[i], b"", (), 0, i, 0.0), e, f"pe{i}"))
            failures = await b.index.upsert(docs)
            assert not failures, failures[:3]
            assert not await trending.handle(batch)  # type: ignore[arg-type]
            engaged = [d for d in docs if rng.random() < 0.02]
            events = [
                Engagement(
                    id=f"e{d['id']}{k}{j}", paper_id=d["id"], type=k, actor_id=f"a{j}", ts=now - rng.uniform(0, 8e4)
                )
                for d in engaged
                for k, n in (("upvote", rng.randint(0, 30)), ("view", rng.randint(0, 60)))
                for j in range(n)
            ]
            events.sort(key=lambda e: e.ts)
            seen += len(events)
            eng = [
                Decoded(Record(ENGAGEMENT.name, e.paper_id, b"", (), 0, seen - len(events) + k, 0.0), e, e.id)
                for k, e in enumerate(events)
            ]
            assert not await trending.handle(eng)  # type: ignore[arg-type]
            if (start // 1000) % 10 == 9:
                rate = (start + 1000) / (time.monotonic() - t0)
                print(f"  loaded {start + 1000}/{len(rows)} ({rate:.0f}/s)", file=sys.stderr)
        await b.index.refresh()
        records = [
            TopicRecord.model_validate(
                {
                    "id": tid,
                    "label": label,
                    "keyphrases": label.split(),
                    "members": sorted(members),
                    "size": len(members),
                    "cohesion": 0.5,
                    "created_at": now,
                    "updated_at": now,
                    "trend": {
                        "window": 1,
                        "recent": hist[-1],
                        "baseline": sum(hist[:-1]) / 7,
                        "std": 1.0,
                        "z": 0.0,
                        "lift": None,
                        "history": 7,
                        "arrivals": hist,
                        "bursting": hist[-1] > 2 * max(hist[:-1]),
                    },
                }
            )
            for tid, label, members, hist in topics
        ]
        await b.topics.save(records, {}, now)
    finally:
        await b.stop()


def run_kafka(loads: int, papers: int, keep: bool) -> list[dict[str, Any]]:
    ns = f"benchsite{uuid.uuid4().hex[:6]}-"
    asyncio.run(load_kafka(ns, papers))
    port = _free_port()
    env = {
        **os.environ,
        "PAPERWIRE_BACKEND": "kafka",
        "PAPERWIRE_NAMESPACE": ns,
        "PAPERWIRE_EMBEDDINGS": "false",
        "PAPERWIRE_GATEWAY_PORT": str(port),
        "PAPERWIRE_GATEWAY_GRPC_PORT": "0",
        "PAPERWIRE_LOG_LEVEL": "WARNING",
        **ACCESS,
    }
    proc = subprocess.Popen([sys.executable, "-m", "paperwire_cli.main", "run", "gateway"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc, 120)
        return asyncio.run(measure(base, loads, "kafka"))
    finally:
        stop(proc)
        if not keep:
            asyncio.run(drop_kafka(ns))


async def drop_kafka(ns: str) -> None:
    from elasticsearch import AsyncElasticsearch
    from redis.asyncio import Redis

    es = AsyncElasticsearch(os.environ.get("PAPERWIRE_ELASTICSEARCH_URL", "http://127.0.0.1:9200"))
    try:
        names = (await es.options(ignore_status=404).indices.get(index=f"{ns}*", expand_wildcards="all")).body
        if names:
            await es.indices.delete(index=",".join(names))
    finally:
        await es.close()
    r = Redis.from_url(os.environ.get("PAPERWIRE_REDIS_URL", "redis://127.0.0.1:6379/0"))
    try:
        batch = [k async for k in r.scan_iter(match=f"{ns}*", count=1000)]
        for i in range(0, len(batch), 1000):
            await r.unlink(*batch[i : i + 1000])
    finally:
        await r.aclose()
    await drop_namespace_topics(os.environ.get("PAPERWIRE_KAFKA_BOOTSTRAP", "127.0.0.1:9092"), ns)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loads", type=int, default=200)
    ap.add_argument("--backend", choices=["both", "embedded", "kafka"], default="both")
    ap.add_argument("--papers", type=int, default=100_000)
    ap.add_argument("--keep", action="store_true", help="(kafka) keep the namespace's index, keys and topics")
    a = ap.parse_args()
    note = f"{a.loads} loads per page, one at a time, on a {os.cpu_count()}-core box shared with the servers"
    if a.backend in ("both", "embedded"):
        show("embedded, 247-paper sample", run_embedded(a.loads), note)
    if a.backend in ("both", "kafka"):
        show(
            f"kafka + elasticsearch + redis, {a.papers:,} synthetic papers", run_kafka(a.loads, a.papers, a.keep), note
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
