"""A large backfill on the real backends: N synthetic papers (default 1,000,000; embeddings and YAKE off) read by
the ingestor (this process) and carried by the enricher, indexer and trending as separate processes, as deployed.

Prints the end-to-end papers/s (first publish to the last paper searchable and every consumer group drained), the
ingestor's own publish rate, and the peak RSS of every process (services, this ingestor and the servers of
`make infra-up`). Checks 0 lost: every paper is in the index (count, and with --verify every id at its version),
nothing was dead-lettered. Needs `make infra-up`; the run's topics and index are deleted at the end.

  python bench/backfill.py --papers 1000000 [--chunk 100000] [--verify]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cleanup import drop_namespace_topics
from bench.procs import own_peak_mb, peak_rss_mb, server_pids
from bench.synthetic import generate

OUT = ROOT / "bench" / "out"


def chunks(n: int, size: int) -> list[Path]:
    """The corpus as files of `size` papers (generated once, cached in bench/out/): the ingestor reads a file
    whole, so a million papers go in as several files, as a backfill of a real archive would."""
    paths = []
    for k, start in enumerate(range(0, n, size)):
        count = min(size, n - start)
        path = OUT / f"backfill-{k:03d}-{count}.jsonl"
        if not path.exists():
            OUT.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            with tmp.open("w") as f:
                for p in generate(count, seed=1000 + k):
                    f.write(json.dumps({**p, "title": f"{p['title']} [b{k}]"}) + "\n")
            tmp.rename(path)
            print(f"  generated {path.name}", file=sys.stderr)
        paths.append(path)
    return paths


async def run(n: int, size: int, verify: bool) -> None:
    from paperwire_common.backends import make_backends
    from paperwire_common.settings import CommonSettings
    from paperwire_ingestor.service import Ingestor
    from paperwire_ingestor.settings import IngestorSettings
    from tests.faults import check
    from tests.faults.stack import Stack

    files = chunks(n, size)
    ns = f"backfill{uuid.uuid4().hex[:6]}-"
    common = CommonSettings(backend="kafka", namespace=ns, embeddings=False)
    endpoints = {
        "PAPERWIRE_KAFKA_BOOTSTRAP": common.kafka_bootstrap,
        "PAPERWIRE_ELASTICSEARCH_URL": common.elasticsearch_url,
        "PAPERWIRE_REDIS_URL": common.redis_url,
    }
    b = make_backends(common, client_id="paperwire-backfill")
    await b.start()
    stack = Stack(ns, endpoints, OUT / "logs" / ns.rstrip("-"), extra_env={"PAPERWIRE_LOG_LEVEL": "WARNING"})
    try:
        for name in ("enricher", "indexer", "trending"):
            stack.add(name)
        await asyncio.to_thread(stack.wait_ready, 180)
        ing = Ingestor(b, IngestorSettings(progress=False))
        t0 = time.monotonic()
        for i, path in enumerate(files):
            s = await ing.ingest_path(str(path), "jsonl")
            rate = (i + 1) * size / (time.monotonic() - t0)
            print(f"  ingested {path.name}: {s.line()} ({rate:.0f} papers/s so far)", file=sys.stderr)
        published = time.monotonic() - t0
        last = 0.0
        while True:
            count = await check.index_count(common.elasticsearch_url, ns)
            if count >= n and await check.drained(common.kafka_bootstrap, ns):
                break
            if time.monotonic() - last > 30:
                print(f"  {count}/{n} indexed after {time.monotonic() - t0:.0f}s", file=sys.stderr)
                last = time.monotonic()
            stack.check_alive()
            await asyncio.sleep(2)
        total = time.monotonic() - t0
        dead = await check.dead_lettered(common.kafka_bootstrap, ns)
        missing = None
        if verify:
            await b.index.refresh()
            missing = n - len(await b.index.snapshot())
        print(f"\nbackfill of {n} synthetic papers, embeddings and keyphrases off, {os.cpu_count()} cores")
        print(f"ingestor publish: {published:.0f}s ({n / published:.0f} papers/s)")
        print(f"end to end (searchable, every group drained): {total:.0f}s ({n / total:.0f} papers/s)")
        print(
            f"lost: {n - count if count >= 0 else 'unknown'} (index count {count})"
            + (f", ids missing {missing}" if missing is not None else "")
            + f"; dead-lettered {dead}"
        )
        print(f"{'process':24} {'peak RSS MB':>12}")
        for svc in stack.services:
            assert svc.proc is not None
            print(f"{svc.label:24} {peak_rss_mb(svc.proc.pid) or float('nan'):12.0f}")
        print(f"{'ingestor (this process)':24} {own_peak_mb():12.0f}")
        for name, pid in server_pids().items():
            print(f"{name + ' (since its start)':24} {peak_rss_mb(pid) or float('nan'):12.0f}")
    finally:
        stack.close()
        await b.index.es.options(ignore_status=404).indices.delete(index=f"{ns}papers-v1")  # type: ignore[attr-defined]
        await b.stop()
        await drop_namespace_topics(common.kafka_bootstrap, ns)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--papers", type=int, default=1_000_000)
    ap.add_argument("--chunk", type=int, default=100_000, help="papers per ingested file")
    ap.add_argument("--verify", action="store_true", help="also compare every indexed id (one scan of the index)")
    a = ap.parse_args()
    from paperwire_common.logging import configure_logging

    configure_logging("WARNING")
    asyncio.run(run(a.papers, a.chunk, a.verify))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
