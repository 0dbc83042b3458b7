"""What the feedback steps of semantic and hybrid search, and the topic reads of the indexer, cost on
Elasticsearch: each configuration side by side in one run, interleaved round by round.

    uv run python bench/feedback_cost.py [--papers 20000] [--queries 100] [--rounds 3] [--batches 20]
                                         [--parts search,indexer] [--keep]

Needs Elasticsearch (`make infra-up`). The corpus is bench/search_latency.py's (synthetic papers with random unit
vectors, index `benchlat-papers<N>-rv`, built if missing and deleted at the end unless --keep). Query vectors are
random unit vectors too (a hash of the query), so the relevance floor is off (-1) here: with random vectors no
cosine would pass 0.28 and no feedback step would run. Rankings are meaningless; the cost is what is measured.

Search configurations (SearchService over ElasticIndex, the gateway's code path, one query at a time):
  none      no vector feedback, no known-item step;
  feedback  + pseudo-relevance feedback (get_embeddings of the best 3, a second kNN restricted to the hits);
  all       + the known-item step (a title-phrase search for queries of 2+ words, and one get_embeddings when a
            title matches): the defaults.
Indexer: upsert batches of new versions of indexed papers, with the two `<alias>-topics` mgets each batch does
(read before, settle after) and with them skipped.

Per configuration: wall ms per request (median, p90) and Elasticsearch CPU ms per request (node stats delta over
the configuration's requests; node stats refresh it about once a second, so it is summed over whole blocks of
requests). The box is shared: other processes' Elasticsearch work lands in the CPU numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.loadgen import _es_cpu_s
from bench.pipeline import corpus
from bench.search_latency import NAMESPACE, _docs, alias_for, ensure_corpus, sample_queries


class HashEncoder:
    """A random unit vector per text (seeded by its hash): a stand-in for the model, at no cost."""

    model_id = "hash-384"

    def encode(self, texts: Sequence[str]) -> Any:
        out = []
        for t in texts:
            rng = np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:16], 16))
            v = rng.standard_normal(384)
            out.append(v / np.linalg.norm(v))
        return np.asarray(out, dtype=np.float32)


def fusions() -> dict[str, Any]:
    from paperwire_common.search.ranking import Fusion

    return {
        "none": Fusion(floor=-1.0, feedback_docs=0, known_item_weight=0.0),
        "feedback": Fusion(floor=-1.0, known_item_weight=0.0),
        "all": Fusion(floor=-1.0),
    }


def stats(walls: list[float], cpu_s: float) -> str:
    walls = sorted(walls)
    p90 = walls[int(0.9 * (len(walls) - 1))]
    return (
        f"wall p50 {statistics.median(walls) * 1000:6.1f} ms  p90 {p90 * 1000:6.1f} ms  "
        f"ES CPU {cpu_s / len(walls) * 1000:5.1f} ms/request  (n={len(walls)})"
    )


async def search_costs(es_url: str, alias: str, queries: list[str], rounds: int) -> None:
    from paperwire_common.search.elastic import ElasticIndex
    from paperwire_common.search.service import SearchService

    index = ElasticIndex(es_url, alias, request_timeout=60)
    enc = HashEncoder()
    services = {name: SearchService(index, enc, cursor_secret=b"bench", fusion=f) for name, f in fusions().items()}
    try:
        for mode in ("semantic", "hybrid"):
            walls: dict[str, list[float]] = {n: [] for n in services}
            cpu: dict[str, float] = dict.fromkeys(services, 0.0)
            for svc in services.values():  # warm: query vectors cached, caches and JIT warm
                for q in queries[:20]:
                    await svc.search(q, mode=mode, size=10)
            for _ in range(rounds):
                for name, svc in services.items():
                    c0 = _es_cpu_s(es_url)
                    for q in queries:
                        t0 = time.perf_counter()
                        await svc.search(q, mode=mode, size=10)
                        walls[name].append(time.perf_counter() - t0)
                    cpu[name] += _es_cpu_s(es_url) - c0
            for name in services:
                print(f"{mode:<8} {name:<9} {stats(walls[name], cpu[name])}")
    finally:
        await index.stop()


async def indexer_costs(es_url: str, alias: str, papers: int, batches: int, size: int, rounds: int) -> None:
    from paperwire_common.search.elastic import ElasticIndex

    index = ElasticIndex(es_url, alias, request_timeout=60)
    try:
        rows = [json.loads(line) for line in corpus(papers).read_text().splitlines()[: batches * size]]
        v = np.random.default_rng(3).standard_normal((len(rows), 384)).astype(np.float32)
        docs = _docs(rows, v / np.linalg.norm(v, axis=1, keepdims=True))
        real_read, real_settle = index.assignments.read, index.assignments.settle

        async def no_read(paper_ids: Sequence[str]) -> dict[str, Any]:
            return {}

        async def no_settle(paper_ids: Sequence[str], carried: Any) -> None:
            return None

        walls: dict[str, list[float]] = {"with topic mgets": [], "without": []}
        cpu = dict.fromkeys(walls, 0.0)
        version = 1
        for _ in range(rounds):  # each configuration's batches together: node stats refresh CPU once a second
            for name in walls:
                fake = name == "without"
                index.assignments.read = no_read if fake else real_read  # type: ignore[method-assign]
                index.assignments.settle = no_settle if fake else real_settle  # type: ignore[method-assign]
                version += 1
                c0 = _es_cpu_s(es_url)
                for b in range(batches):
                    batch = [{**d, "version": version} for d in docs[b * size : (b + 1) * size]]
                    t0 = time.perf_counter()
                    failures = await index.upsert(batch)
                    walls[name].append(time.perf_counter() - t0)
                    if failures:
                        raise RuntimeError(f"{len(failures)} failures, e.g. {failures[0]}")
                cpu[name] += _es_cpu_s(es_url) - c0
        for name in walls:
            print(f"upsert of {size} papers, {name:<16} {stats(walls[name], cpu[name]).replace('request', 'batch')}")
    finally:
        await index.stop()


async def drop(es_url: str, alias: str) -> None:
    from elasticsearch import AsyncElasticsearch

    es = AsyncElasticsearch(es_url)
    try:
        targets = list((await es.options(ignore_status=404).indices.get_alias(name=alias)).body)
        for name in [*targets, f"{alias}-topics"]:
            await es.options(ignore_status=404).indices.delete(index=name)
    finally:
        await es.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--es", default="http://127.0.0.1:9200")
    ap.add_argument("--papers", type=int, default=20_000)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=200)
    ap.add_argument("--keep", action="store_true", help="keep the corpus index for a later run")
    ap.add_argument("--parts", default="search,indexer", help="which measurements: search, indexer or both")
    a = ap.parse_args()
    from paperwire_common.logging import configure_logging

    configure_logging("WARNING")
    alias = NAMESPACE + alias_for(a.papers, "random")
    asyncio.run(ensure_corpus(a.es, a.papers, "random", reindex=False))
    try:
        queries = sample_queries(a.queries)
        print(
            f"{a.papers} synthetic papers (random vectors), {len(queries)} queries x {a.rounds} rounds, "
            f"one at a time; shared box: {json.dumps([round(x, 1) for x in __import__('os').getloadavg()])} load avg"
        )
        if "search" in a.parts:
            asyncio.run(search_costs(a.es, alias, queries, a.rounds))
        if "indexer" in a.parts:
            asyncio.run(indexer_costs(a.es, alias, a.papers, a.batches, a.batch_size, a.rounds))
    finally:
        if not a.keep:
            asyncio.run(drop(a.es, alias))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
