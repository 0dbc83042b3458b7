"""End-to-end pipeline throughput: a synthetic JSONL corpus -> ingestor -> enricher -> indexer -> searchable,
on the embedded backend (in memory, and durable on a data dir as `make run` runs it) and on real Kafka +
Elasticsearch (+ Redis), beside Elasticsearch's raw bulk rate for the same documents. Prints a table; nothing
here asserts.

  python bench/pipeline.py --papers 100000 [--backend both|embedded|kafka] [--keyphrases yake|off]

The real-backend run starts the enricher and the indexer as separate processes (as deployed), so the
two cores are shared as in production. Needs `make infra-up` for --backend kafka.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cleanup import drop_namespace_topics
from bench.synthetic import generate


def corpus(n: int) -> Path:
    path = ROOT / "bench" / "out" / f"synthetic-{n}.jsonl"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("w") as f:
            for p in generate(n):
                f.write(json.dumps(p) + "\n")
        tmp.rename(path)
    return path


async def wait_count(index: Any, n: int, timeout: float, label: str) -> None:
    start = last = time.monotonic()
    while True:
        # No forced refresh: "searchable" is what the index's own refresh interval makes visible, and forcing
        # one twice a second would make Elasticsearch write many tiny segments (and merge them) during the run.
        c = await index.count()
        if c >= n:
            return
        if time.monotonic() - last > 5:
            print(f"  {label}: {c}/{n} searchable after {time.monotonic() - start:.0f}s", file=sys.stderr)
            last = time.monotonic()
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{label}: only {c}/{n} searchable after {timeout}s")
        await asyncio.sleep(0.5)


async def run_embedded(path: Path, n: int, keyphrases: str, data_dir: Path | None = None) -> float:
    """In memory, or durable on `data_dir` (the bus log, index and registry in SQLite, as `make run`)."""
    os.environ["PAPERWIRE_ENRICHER_KEYPHRASES"] = keyphrases
    from paperwire_cli.runner import build_worker
    from paperwire_common.backends import make_backends
    from paperwire_common.settings import CommonSettings
    from paperwire_ingestor.service import Ingestor
    from paperwire_ingestor.settings import IngestorSettings

    if data_dir is not None:
        shutil.rmtree(data_dir, ignore_errors=True)
    common = CommonSettings(backend="embedded", embeddings=False, embedded_data_dir=str(data_dir) if data_dir else None)
    b = make_backends(common)
    await b.start()
    stop = asyncio.Event()
    loops = [build_worker(w, b, common)[1] for w in ("enricher", "indexer")]
    tasks = [asyncio.create_task(lp.run(stop)) for lp in loops]
    t0 = time.monotonic()
    await Ingestor(b, IngestorSettings(progress=False)).ingest_path(str(path), "jsonl")
    await wait_count(b.index, n, 3600, "embedded")
    took = time.monotonic() - t0
    stop.set()
    await asyncio.gather(*tasks)
    await b.stop()
    return took


async def run_kafka(path: Path, n: int, keyphrases: str) -> float:
    from paperwire_common.backends import make_backends
    from paperwire_common.settings import CommonSettings
    from paperwire_ingestor.service import Ingestor
    from paperwire_ingestor.settings import IngestorSettings

    ns = f"bench{uuid.uuid4().hex[:6]}-"
    env = {
        **os.environ,
        "PAPERWIRE_BACKEND": "kafka",
        "PAPERWIRE_NAMESPACE": ns,
        "PAPERWIRE_EMBEDDINGS": "false",
        "PAPERWIRE_ENRICHER_KEYPHRASES": keyphrases,
        "PAPERWIRE_LOG_LEVEL": "WARNING",
    }
    common = CommonSettings(backend="kafka", namespace=ns, embeddings=False)
    b = make_backends(common)
    await b.start()  # creates topics and the index before the services start
    ports = {svc: _free_port() for svc in ("enricher", "indexer")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "paperwire_cli.main", "run", svc],
            cwd=ROOT,
            env={**env, f"PAPERWIRE_{svc.upper()}_HEALTH_PORT": str(port)},
        )
        for svc, port in ports.items()
    ]
    try:
        # The clock starts once both services are ready (consumers joined): throughput, not process start-up.
        await _wait_ready(list(ports.values()), procs)
        t0 = time.monotonic()
        await Ingestor(b, IngestorSettings(progress=False)).ingest_path(str(path), "jsonl")
        print(f"  kafka: ingest published {n} in {time.monotonic() - t0:.1f}s", file=sys.stderr)
        await wait_count(b.index, n, 3600, "kafka")
        return time.monotonic() - t0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
        es = b.index.es.options(ignore_status=404)  # type: ignore[attr-defined]
        await es.indices.delete(index=f"{ns}papers-v1")
        await es.indices.delete(index=f"{ns}papers-topics")
        await b.stop()
        await drop_namespace_topics(common.kafka_bootstrap, ns)


def indexed_documents(path: Path, keyphrases: str) -> list[dict[str, Any]]:
    """The exact request bodies the pipeline's indexer sends for this corpus (same parser, enrichment, document
    and suggestion fields), built before the clock starts."""
    from paperwire_common.search.document import to_document
    from paperwire_common.search.elastic import stored_body
    from paperwire_enricher.handlers import enrich
    from paperwire_enricher.keyphrases import NoKeyphrases, YakeExtractor
    from paperwire_ingestor.handlers import to_raw
    from paperwire_ingestor.parsers import FORMATS
    from paperwire_ingestor.records import Rejected

    kp = YakeExtractor() if keyphrases == "yake" else NoKeyphrases()
    out = []
    for rec in FORMATS["jsonl"](path.read_bytes()):
        assert not isinstance(rec, Rejected), rec
        outcome, raw = to_raw(rec, existing=None, source="jsonl", now=time.time())
        assert outcome == "new" and raw is not None and not isinstance(raw, str), (outcome, raw)
        e = enrich(raw, keyphrases=kp, n_keyphrases=8, embedding=None, embedding_model=None, now=raw.ingested_at)
        out.append(stored_body(to_document(e)))
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_ready(ports: list[int], procs: list[subprocess.Popen[bytes]], timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        for port in ports:
            while True:
                if any(p.poll() is not None for p in procs):
                    raise RuntimeError("a service process exited during start-up")
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"service on health port {port} not ready after {timeout}s")
                await asyncio.sleep(0.2)


async def raw_bulk(path: Path, n: int, es_url: str, keyphrases: str) -> float:
    """The same documents bulk-indexed straight into Elasticsearch: no Kafka, no enrichment on the clock."""
    from elasticsearch.helpers import async_bulk

    from paperwire_common.search.elastic import ElasticIndex
    from paperwire_common.search.mapping import MAPPINGS, SETTINGS

    docs = indexed_documents(path, keyphrases)
    # The adapter's own client configuration (orjson serialisers): the baseline is the fastest client we have.
    es = ElasticIndex(es_url, "unused", request_timeout=120).es
    name = f"rawbulk{uuid.uuid4().hex[:6]}"
    await es.indices.create(index=name, settings=SETTINGS, mappings=MAPPINGS)
    # `_source` explicitly: the bulk helper would otherwise take our `version` field for ES metadata.
    ops = [{"_index": name, "_id": d["id"], "_source": d} for d in docs]
    t0 = time.monotonic()
    await async_bulk(es, ops, chunk_size=1000, max_chunk_bytes=20_000_000)
    await es.indices.refresh(index=name)
    took = time.monotonic() - t0
    count = (await es.count(index=name))["count"]
    await es.indices.delete(index=name)
    await es.close()
    assert count == n, f"raw bulk indexed {count} of {n}"
    return took


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--papers", type=int, default=100_000)
    ap.add_argument("--backend", choices=["both", "embedded", "kafka"], default="both")
    ap.add_argument("--keyphrases", choices=["yake", "off"], default="yake")
    ap.add_argument("--es-url", default=os.environ.get("PAPERWIRE_ELASTICSEARCH_URL", "http://127.0.0.1:9200"))
    a = ap.parse_args()
    from paperwire_common.logging import configure_logging

    configure_logging("WARNING")
    path = corpus(a.papers)
    rows: list[tuple[str, float]] = []
    if a.backend in ("both", "embedded"):
        rows.append(
            (
                "embedded, in memory (bus in memory, SQLite FTS5)",
                asyncio.run(run_embedded(path, a.papers, a.keyphrases)),
            )
        )
        durable = ROOT / "bench" / "out" / "pipeline-data"
        rows.append(
            (
                "embedded, durable (`make run`: data dir)",
                asyncio.run(run_embedded(path, a.papers, a.keyphrases, durable)),
            )
        )
        shutil.rmtree(durable, ignore_errors=True)
    raw = None
    if a.backend in ("both", "kafka"):
        rows.append(
            (
                "kafka + elasticsearch (2 service processes)",
                asyncio.run(run_kafka(path, a.papers, a.keyphrases)),
            )
        )
        raw = asyncio.run(raw_bulk(path, a.papers, a.es_url, a.keyphrases))
    print(
        f"\npipeline throughput, {a.papers} synthetic papers, embeddings off, keyphrases {a.keyphrases}, "
        f"{os.cpu_count()} cores"
    )
    print(f"{'path':48} {'seconds':>9} {'papers/s':>10}")
    for label, secs in rows:
        print(f"{label:48} {secs:9.1f} {a.papers / secs:10.0f}")
    if raw is not None:
        print(f"{'elasticsearch raw _bulk, same documents':48} {raw:9.1f} {a.papers / raw:10.0f}")
        kafka_rate = a.papers / rows[-1][1]
        print(f"ratio kafka pipeline / raw bulk: {kafka_rate / (a.papers / raw):.2f}")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
