"""Search latency at a fixed arrival rate over 100,000 synthetic papers: through the gateway vs straight to ES.

    uv run python bench/search_latency.py [--papers 100000] [--rates 100[,20,10,5]] [--duration 45] [--warmup 5]
        [--modes keyword[,hybrid]] [--vectors none|random] [--load auto|vegeta|python] [--reindex] [--drop]
        [--json out.json]

Needs Elasticsearch and Kafka (`make infra-up`); Redis too, as the gateway process connects to it.

1. Corpus: bench/synthetic.py's 100,000 papers (cached in bench/out/), indexed once into the Elasticsearch
   index `benchlat-papers<N>-v1` (alias `benchlat-papers<N>`) with the production mapping, each document made
   the production way (PaperRaw -> enricher's `enrich` with keyphrases off -> `to_document`) and written by
   ElasticIndex.upsert, the indexer's bulk path. Reused by later runs while it holds N documents (--reindex
   rebuilds it, --drop deletes it at the end).
2. Queries: 200 distinct 1-3 word spans of seed titles (stop words removed), shuffled with a fixed seed;
   the same sequence drives both legs.
3. Open loop: request i is due at t0 + i / rate whatever happened before (no back-pressure from slow
   answers); its latency runs from that due time to the end of its response, so a late start counts. The
   first --warmup seconds of each leg are sent but not recorded. A failed or timed-out (10 s) request counts
   as infinitely slow. The load generator (--load) is vegeta when installed (`make bench-tools`): it spends
   ~1 ms of CPU a request on the shared cores, against 1.5-2.5 ms for the asyncio one in this process. Beyond
   what the server can do (over 300 requests in flight) the python generator stops the leg and reports the
   throughput it reached; vegeta keeps sending late, and a leg that fell over a second behind is SATURATED.
   (a) gateway: `paperwire run gateway` as a subprocess (PAPERWIRE_BACKEND=kafka, PAPERWIRE_NAMESPACE=benchlat-,
       PAPERWIRE_INDEX_ALIAS=papers<N>), GET /v1/search?q=..&mode=..&size=10;
   (b) direct: the exact Elasticsearch requests the adapter sends for that query and mode (recorded by
       running SearchService over ElasticIndex once per query with a recording client), replayed as they are
       (vegeta: one _search, or one _msearch when the adapter sends several). Not replayed, so the direct leg
       is if anything the cheaper: the vocabulary probes, and in semantic and hybrid modes the _mget of the
       page's documents, which the gateway sends once the candidates are fused.
   Both legs share the 2 cores with Elasticsearch (and the gateway process): the numbers are for this box.
4. CPU: each leg prints the CPU per request of Elasticsearch (its node stats), the gateway process and the load
   generator, and how many cores the whole box kept busy: where a saturated leg's time went.

Hybrid: the 100k corpus has no real embeddings (all-MiniLM-L6-v2 on 2 cores embeds ~13-30 papers/s, i.e.
1-2 hours for 100k). `--vectors random --modes keyword,hybrid` indexes random unit vectors instead, so the
kNN part costs what an HNSW search over 100k x 384 dims costs (rankings are meaningless). Query embeddings are
cached by the gateway (LRU), so after warm-up the 200 repeated queries do not pay the encoder.

Last numbers, and what they mean: bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.loadgen import CpuMeter, CpuUse, direct_target, find_vegeta, get_target, run_vegeta
from bench.pipeline import corpus

NAMESPACE = "benchlat-"
SEED = ROOT / "data" / "sample" / "seed_papers.jsonl"
STOP = set(
    "a an and are as at be by can do does for from how in into is it its of on or the their them this to "
    "towards toward via vs what when where which who why with without your our we you not more most".split()
)


# -- queries
def sample_queries(n: int, seed: int = 11) -> list[str]:
    titles = [json.loads(line)["title"] for line in SEED.read_text().splitlines() if line.strip()]
    words = [[w for w in re.findall(r"[a-z][a-z0-9]+", t.lower()) if w not in STOP] for t in titles]
    words = [ws for ws in words if ws]
    rng = random.Random(seed)
    out: dict[str, None] = {}
    while len(out) < n:
        ws = rng.choice(words)
        k = min(rng.choice((1, 2, 3)), len(ws))
        start = rng.randrange(len(ws) - k + 1)
        out[" ".join(ws[start : start + k])] = None
    qs = list(out)
    rng.shuffle(qs)
    return qs


# -- index
def alias_for(papers: int, vectors: str) -> str:
    return f"papers{papers}" + ("-rv" if vectors == "random" else "")


def _docs(rows: Sequence[dict[str, str]], vectors: np.ndarray | None) -> list[dict[str, Any]]:
    from paperwire_common.events import PaperRaw
    from paperwire_common.ids import canonical_id, content_hash
    from paperwire_common.search.document import to_document
    from paperwire_enricher.handlers import enrich
    from paperwire_enricher.keyphrases import NoKeyphrases

    out = []
    now = time.time()
    for i, p in enumerate(rows):
        raw = PaperRaw(
            paper_id=canonical_id(arxiv_id=None, doi=None, title=p["title"]),
            version=1,
            content_hash=content_hash(p["title"], p["abstract"]),
            title=p["title"],
            abstract=p["abstract"],
            source="jsonl",
            ingested_at=now,
        )
        vec = vectors[i] if vectors is not None else None
        e = enrich(
            raw,
            keyphrases=NoKeyphrases(),
            n_keyphrases=0,
            embedding=vec,
            embedding_model="random-unit-384" if vec is not None else None,
            now=now,
        )
        out.append(to_document(e))
    return out


async def ensure_corpus(es_url: str, papers: int, vectors: str, reindex: bool) -> None:
    from paperwire_common.search.elastic import ElasticIndex

    alias = NAMESPACE + alias_for(papers, vectors)
    index = ElasticIndex(es_url, alias, request_timeout=120)
    try:
        if await index.es.indices.exists_alias(name=alias):
            count = await index.count()
            if count == papers and not reindex:
                print(f"index {alias}: {count} papers already there (--reindex rebuilds it)", file=sys.stderr)
                return
            targets = list((await index.es.indices.get_alias(name=alias)).keys())
            await index.es.indices.delete(index=targets)
            print(f"index {alias}: deleted {targets} ({count} papers)", file=sys.stderr)
        await index.ensure_index()
        await index.es.indices.put_settings(index=alias, settings={"refresh_interval": "-1"})
        path = corpus(papers)
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        rng = np.random.default_rng(7)
        t0 = time.monotonic()
        batch = 1000
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            vecs = None
            if vectors == "random":
                v = rng.standard_normal((len(chunk), 384)).astype(np.float32)
                vecs = v / np.linalg.norm(v, axis=1, keepdims=True)
            failures = await index.upsert(_docs(chunk, vecs))
            if failures:
                raise RuntimeError(f"{len(failures)} documents failed, e.g. {failures[0]}")
            if (start // batch) % 10 == 9:
                rate = (start + len(chunk)) / (time.monotonic() - t0)
                print(f"  indexed {start + len(chunk)}/{len(rows)} ({rate:.0f}/s)", file=sys.stderr)
        await index.es.indices.put_settings(index=alias, settings={"refresh_interval": "1s"})
        await index.refresh()
        # One segment, as a read-mostly index settles to: no background merge competes with the legs.
        await index.es.options(request_timeout=3600).indices.forcemerge(index=alias, max_num_segments=1)
        print(f"index {alias}: {await index.count()} papers in {time.monotonic() - t0:.0f}s", file=sys.stderr)
    finally:
        await index.stop()


async def drop_corpus(es_url: str, papers: int, vectors: str) -> None:
    from elasticsearch import AsyncElasticsearch

    es = AsyncElasticsearch(es_url)
    try:
        alias = NAMESPACE + alias_for(papers, vectors)
        await es.options(ignore_status=404).indices.delete(index=f"{alias}-v1")
    finally:
        await es.close()


async def drop_topics(bootstrap: str) -> None:
    """The gateway's start-up creates the namespace's topics: delete exactly those."""
    from bench.cleanup import drop_namespace_topics

    await drop_namespace_topics(bootstrap, NAMESPACE)


# -- what the adapter sends
class RecordingES:
    """Forwards to an AsyncElasticsearch client and records the keyword arguments of every search()."""

    def __init__(self, es: Any, calls: list[dict[str, Any]] | None = None) -> None:
        self._es = es
        self.calls: list[dict[str, Any]] = [] if calls is None else calls

    def __getattr__(self, name: str) -> Any:
        return getattr(self._es, name)

    def options(self, **kw: Any) -> RecordingES:
        return RecordingES(self._es.options(**kw), self.calls)

    async def search(self, **kw: Any) -> Any:
        self.calls.append(kw)
        return await self._es.search(**kw)


async def record_requests(es_url: str, alias: str, queries: Sequence[str], mode: str) -> dict[str, list[dict]]:
    from paperwire_common.search.elastic import ElasticIndex
    from paperwire_common.search.service import SearchService

    index = ElasticIndex(es_url, alias)
    rec = RecordingES(index.es)
    index.es = rec  # type: ignore[assignment]
    encoder = None
    if mode != "keyword":
        from paperwire_enricher.embeddings import load_default_encoder

        encoder = load_default_encoder()
    svc = SearchService(index, encoder, cursor_secret=b"bench")
    out: dict[str, list[dict]] = {}
    try:
        for q in queries:
            rec.calls.clear()
            await svc.search(q, mode=mode, size=10)  # type: ignore[arg-type]
            out[q] = [dict(c) for c in rec.calls]
    finally:
        await rec._es.close()
    return out


# -- open-loop load
@dataclass
class Leg:
    leg: str
    mode: str
    rate: float
    sent: int  # recorded requests (after the warm-up; all of them when the leg saturated)
    ok: int
    errors: int
    # Percentiles over every recorded request; a failed, timed-out or abandoned one counts as infinitely slow.
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    achieved_per_s: float  # successful responses per second of the recorded window
    max_in_flight: int
    saturated_after_s: float | None = None  # the leg was stopped: too many requests in flight
    es_took_p50_ms: float | None = None  # Elasticsearch's own `took` (direct leg, python load only)
    first_error: str | None = None
    load: str = "python"  # the load generator: python (asyncio, in this process) or vegeta
    cpu: CpuUse | None = None  # where the leg's CPU went, per request


def summarise(
    leg: str, mode: str, rate: float, lat_s: Sequence[float], window: float, sent: int, peak: int, **kw: Any
) -> Leg:
    """Percentiles over every recorded request; a failed, timed-out or abandoned one counts as infinitely slow."""
    ok = sum(1 for x in lat_s if math.isfinite(x))
    ms = np.sort(np.asarray(list(lat_s) or [float("inf")], dtype=np.float64)) * 1000
    p50, p95, p99 = (float(x) for x in np.percentile(ms, [50, 95, 99], method="higher"))
    return Leg(leg, mode, rate, sent, ok, sent - ok, p50, p95, p99, float(ms.max()), ok / max(window, 1e-9), peak, **kw)


async def open_loop(
    leg: str,
    mode: str,
    send: Callable[[str], Awaitable[float | None]],
    queries: Sequence[str],
    rate: float,
    duration: float,
    warmup: float,
    timeout: float = 10.0,
    max_in_flight: int = 300,
    meter: CpuMeter | None = None,
) -> Leg:
    """Request i is due at t0 + i / rate; its latency runs from its due time, so a late start counts.

    When more than max_in_flight requests are outstanding the server cannot keep up with the rate (latency
    then grows without bound): the leg stops, abandons what is in flight and reports the throughput reached.
    """
    loop = asyncio.get_running_loop()
    total = round((warmup + duration) * rate)
    t0 = loop.time() + 0.2
    done: list[tuple[float, float]] = []  # (due time, latency s or inf)
    took: list[float] = []
    errors: list[str] = []
    in_flight = 0
    peak = 0

    async def one(scheduled: float, q: str) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            async with asyncio.timeout(timeout):
                t = await send(q)
            done.append((scheduled, loop.time() - scheduled))
            if t is not None:
                took.append(t)
        except Exception as e:
            done.append((scheduled, float("inf")))
            errors.append(repr(e)[:200])
        finally:
            in_flight -= 1

    tasks: list[asyncio.Task[None]] = []
    dues: list[float] = []
    stopped: float | None = None
    if meter:
        meter.start()
    for i in range(total):
        due = t0 + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if in_flight >= max_in_flight:
            stopped = loop.time()
            break
        dues.append(due)
        tasks.append(asyncio.create_task(one(due, queries[i % len(queries)])))
    if stopped is not None:
        for t in tasks:
            t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    cpu = meter.stop(len(dues)) if meter else None
    # Saturated legs keep everything (the warm-up included); otherwise only what was due after the warm-up.
    start = t0 if stopped is not None else t0 + warmup
    window = (stopped - start) if stopped is not None else duration
    finished = {d: lat for d, lat in done}
    lat = [finished.get(d, float("inf")) for d in dues if d >= start]
    return summarise(
        leg,
        mode,
        rate,
        lat,
        window,
        len(lat),
        peak,
        saturated_after_s=None if stopped is None else stopped - t0,
        es_took_p50_ms=float(np.median(took)) if took else None,
        first_error=errors[0] if errors else None,
        cpu=cpu,
    )


def vegeta_leg(
    leg: str, mode: str, targets: Sequence[dict[str, Any]], rate: float, a: argparse.Namespace, meter: CpuMeter
) -> Leg:
    meter.start()
    run = run_vegeta(a.vegeta, targets, rate, a.duration, a.warmup, ROOT / "bench" / "out" / "vegeta")
    cpu = meter.stop(run.sent)
    # Out of free workers, vegeta sends late; latencies count from the due time, but a leg that fell more than
    # a second behind could not hold the rate: it is reported as saturated.
    behind = run.late_s > 1.0 or run.sent < 0.98 * run.planned
    return summarise(
        leg,
        mode,
        rate,
        run.latencies_s,
        a.duration,
        len(run.latencies_s),
        0,
        saturated_after_s=run.late_s if behind else None,
        first_error=run.first_error,
        load="vegeta",
        cpu=cpu,
    )


async def direct_leg(
    es_url: str, mode: str, requests: dict[str, list[dict]], queries: Sequence[str], rate: float, a: argparse.Namespace
) -> Leg:
    name = "direct ES"
    if a.load == "vegeta":
        targets = [direct_target(es_url, requests[q]) for q in queries]
        return vegeta_leg(name, mode, targets, rate, a, CpuMeter(es_url, None, "vegeta"))
    from elasticsearch import AsyncElasticsearch
    from elasticsearch.serializer import OrjsonSerializer

    # The gateway's own client setup (aiohttp + orjson), so the legs differ only by the gateway.
    es = AsyncElasticsearch(es_url, request_timeout=30, serializer=OrjsonSerializer())

    async def send(q: str) -> float:
        took = 0.0
        for kw in requests[q]:
            took += float((await es.search(**kw))["took"])
        return took

    try:
        await send(queries[0])  # connect
        meter = CpuMeter(es_url, None, "python")
        return await open_loop(name, mode, send, queries, rate, a.duration, a.warmup, meter=meter)
    finally:
        await es.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_ready(client: Any, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the gateway exited with {proc.returncode}")
        try:
            r = await client.get("/readyz")
            if r.status_code == 200:
                return
        except Exception:
            pass
        await asyncio.sleep(0.5)
    raise TimeoutError("the gateway did not become ready")


async def gateway_leg(
    port: int, proc: subprocess.Popen[bytes], mode: str, queries: Sequence[str], rate: float, a: argparse.Namespace
) -> Leg:
    import aiohttp
    import httpx
    import orjson

    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        await wait_ready(client, proc)
    name = "gateway /v1/search"
    meter = CpuMeter(a.es_url, proc.pid, a.load)
    if a.load == "vegeta":
        targets = [get_target(f"{base}/v1/search?" + urlencode({"q": q, "mode": mode, "size": "10"})) for q in queries]
        return vegeta_leg(name, mode, targets, rate, a, meter)
    # The load itself goes through aiohttp + orjson, the stack the direct leg's client uses: the client's own
    # CPU (it shares the 2 cores) then weighs the same on both legs.
    conn = aiohttp.TCPConnector(limit=300)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base, connector=conn, timeout=timeout) as session:

        async def send(q: str) -> None:
            async with session.get("/v1/search", params={"q": q, "mode": mode, "size": "10"}) as r:
                raw = await r.read()
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}: {raw[:150]!r}")
            body = orjson.loads(raw)
            if body.get("mode") != mode:
                raise RuntimeError(f"served as {body.get('mode')}: {body.get('degraded')}")

        await send(queries[0])
        return await open_loop(name, mode, send, queries, rate, a.duration, a.warmup, meter=meter)


def start_gateway(a: argparse.Namespace, port: int, embeddings: bool) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PAPERWIRE_BACKEND": "kafka",
        "PAPERWIRE_NAMESPACE": NAMESPACE,
        "PAPERWIRE_INDEX_ALIAS": alias_for(a.papers, a.vectors),
        "PAPERWIRE_ELASTICSEARCH_URL": a.es_url,
        "PAPERWIRE_KAFKA_BOOTSTRAP": a.kafka,
        "PAPERWIRE_REDIS_URL": a.redis,
        "PAPERWIRE_EMBEDDINGS": "true" if embeddings else "false",
        "PAPERWIRE_GATEWAY_HOST": "127.0.0.1",
        "PAPERWIRE_GATEWAY_PORT": str(port),
        "PAPERWIRE_GATEWAY_GRPC_PORT": "0",
        "PAPERWIRE_LOG_LEVEL": "WARNING",
        "PAPERWIRE_MASTER_KEY": os.environ.get("PAPERWIRE_MASTER_KEY") or "bench-master-key-0123456789abcdef",
        # The load comes from one address: a quota it never reaches (the quota is still counted per request).
        "PAPERWIRE_GATEWAY_RATE_LIMIT_ANONYMOUS": "100000000/minute",
    }
    exe = shutil.which("paperwire", path=str(Path(sys.executable).parent))
    cmd = [exe, "run", "gateway"] if exe else [sys.executable, "-m", "paperwire_cli.main", "run", "gateway"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env)


def stop_gateway(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--papers", type=int, default=100_000)
    ap.add_argument("--rates", default="100", help="comma-separated queries per second, open loop, one run each")
    ap.add_argument("--duration", type=float, default=45.0, help="recorded seconds per leg")
    ap.add_argument("--warmup", type=float, default=5.0, help="unrecorded seconds at the start of each leg")
    ap.add_argument("--queries", type=int, default=200, help="distinct queries")
    ap.add_argument("--modes", default="keyword", help="comma-separated: keyword, semantic, hybrid")
    ap.add_argument("--vectors", choices=["none", "random"], default="none", help="document vectors of the corpus")
    ap.add_argument("--reindex", action="store_true", help="rebuild the bench index even if it is complete")
    ap.add_argument("--drop", action="store_true", help="delete the bench index at the end")
    ap.add_argument(
        "--load",
        choices=["auto", "vegeta", "python"],
        default="auto",
        help="load generator: vegeta (Go, little CPU on the shared cores) or python (asyncio); auto: vegeta if found",
    )
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--es-url", default=os.environ.get("PAPERWIRE_ELASTICSEARCH_URL", "http://127.0.0.1:9200"))
    ap.add_argument("--kafka", default=os.environ.get("PAPERWIRE_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    ap.add_argument("--redis", default=os.environ.get("PAPERWIRE_REDIS_URL", "redis://127.0.0.1:6379/0"))
    a = ap.parse_args()
    modes = [m.strip() for m in a.modes.split(",") if m.strip()]
    if not set(modes) <= {"keyword", "semantic", "hybrid"}:
        ap.error("--modes: keyword, semantic, hybrid")
    if set(modes) - {"keyword"} and a.vectors == "none":
        ap.error("semantic/hybrid need document vectors: add --vectors random (see the docstring)")

    a.vegeta = find_vegeta()
    if a.load == "auto":
        a.load = "vegeta" if a.vegeta else "python"
    if a.load == "vegeta" and not a.vegeta:
        ap.error("--load vegeta: vegeta is not installed: run `make bench-tools`")
    print(f"load generator: {a.load}" + (f" ({a.vegeta})" if a.load == "vegeta" else ""), file=sys.stderr)

    from paperwire_common.logging import configure_logging

    configure_logging("WARNING")
    asyncio.run(ensure_corpus(a.es_url, a.papers, a.vectors, a.reindex))
    alias = NAMESPACE + alias_for(a.papers, a.vectors)
    queries = sample_queries(a.queries)
    rates = [float(r) for r in a.rates.split(",") if r.strip()]
    legs: list[Leg] = []
    load = [os.getloadavg()[0]]
    port = free_port()
    proc = start_gateway(a, port, embeddings=any(m != "keyword" for m in modes))
    try:
        for mode in modes:
            requests = asyncio.run(record_requests(a.es_url, alias, queries, mode))
            calls = sum(len(v) for v in requests.values()) / len(requests)
            print(f"{mode}: {calls:.1f} Elasticsearch requests per query (recorded from the adapter)", file=sys.stderr)
            for rate in rates:
                legs.append(asyncio.run(direct_leg(a.es_url, mode, requests, queries, rate, a)))
                print(f"  {legs[-1]}", file=sys.stderr)
                legs.append(asyncio.run(gateway_leg(port, proc, mode, queries, rate, a)))
                print(f"  {legs[-1]}", file=sys.stderr)
                load.append(os.getloadavg()[0])
    finally:
        stop_gateway(proc)
        asyncio.run(drop_topics(a.kafka))
        if a.drop:
            asyncio.run(drop_corpus(a.es_url, a.papers, a.vectors))

    print(
        f"\nsearch latency, open loop, {a.duration:.0f} s recorded per leg (+{a.warmup:.0f} s warm-up), "
        f"{len(queries)} distinct 1-3 word queries, size=10, {a.papers} synthetic papers, vectors {a.vectors}, "
        f"{os.cpu_count()} cores (1-min load avg {min(load):.1f}-{max(load):.1f}), load generator {a.load}; a failed "
        "or timed-out (10 s) request counts as infinitely slow; CPU is per request sent, the warm-up included"
    )

    def ms(x: float) -> str:
        return f"{x:>7.1f}" if math.isfinite(x) else f"{'>10s':>7}"

    cols = (("leg", -20), ("mode", -8), ("rate/s", 6), ("p50 ms", 7), ("p95 ms", 7), ("p99 ms", 7), ("max ms", 7))
    header = " ".join(f"{c:<{-w}}" if w < 0 else f"{c:>{w}}" for c, w in cols)
    header += f" {'ok':>6} {'fail':>5} {'done/s':>6} | {'CPU ms/request: ES':>18} {'gateway':>7} {'load':>5}"
    header += f" | {'box cores':>9}"
    print(header)
    print("-" * len(header))
    for g in legs:
        c = g.cpu
        gw = f"{c.gateway_ms:>7.1f}" if c and c.gateway_ms is not None else f"{'':>7}"
        use = f"{c.es_ms:>18.1f} {gw} {c.load_ms:>5.1f} | {c.box_cores:>9.2f}" if c else ""
        print(
            f"{g.leg:<20} {g.mode:<8} {g.rate:>6.0f} {ms(g.p50_ms)} {ms(g.p95_ms)} {ms(g.p99_ms)} {ms(g.max_ms)} "
            f"{g.ok:>6} {g.errors:>5} {g.achieved_per_s:>6.1f} | {use}"
        )
    for mode in modes:
        for rate in rates:
            d = next(g for g in legs if (g.mode, g.rate) == (mode, rate) and g.leg.startswith("direct"))
            w = next(g for g in legs if (g.mode, g.rate) == (mode, rate) and g.leg.startswith("gateway"))
            ratios = [w.p50_ms / d.p50_ms, w.p95_ms / d.p95_ms, w.p99_ms / d.p99_ms]
            named = zip(("p50", "p95", "p99"), ratios, strict=True)
            shown = ", ".join(f"{n} {r:.2f}x" if math.isfinite(r) else f"{n} n/a" for n, r in named)
            print(f"ratio gateway/direct, {mode} at {rate:.0f}/s: {shown}")
    for g in legs:
        if g.saturated_after_s is not None and g.load == "vegeta":
            print(
                f"{g.leg} {g.mode} at {g.rate:.0f}/s: SATURATED, all 300 vegeta workers were busy and requests went "
                f"out up to {g.saturated_after_s:.1f}s late (counted in the latencies)"
            )
        elif g.saturated_after_s is not None:
            print(
                f"{g.leg} {g.mode} at {g.rate:.0f}/s: SATURATED, stopped after {g.saturated_after_s:.1f}s with "
                f"{g.max_in_flight} requests in flight; it completed {g.achieved_per_s:.1f} requests/s"
            )
    for g in legs:
        if g.first_error:
            print(f"{g.leg} {g.mode} at {g.rate:.0f}/s: {g.errors} errors, e.g. {g.first_error}")
    if a.json:
        out = {"args": {k: str(v) for k, v in vars(a).items()}, "legs": [asdict(g) for g in legs]}
        a.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
