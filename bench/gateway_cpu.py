"""The gateway's CPU per keyword search, in process, beside the search service alone.

    .venv/bin/python bench/gateway_cpu.py [--requests 2000] [--rounds 3]

The seed corpus goes through the embedded pipeline (ingestor -> enricher -> indexer, embeddings off) into the
in-memory embedded index. Then `--requests` keyword searches (the judged seed queries, round robin) run
1. through the whole FastAPI app (`create_app`: middleware, dependencies, validation, response model, JSON)
   with httpx's ASGITransport, one request at a time, and
2. straight through `SearchService.search` with the same arguments,
and the script prints the process CPU time per request of each and their difference (the gateway's own
overhead plus the httpx client's). The best of `--rounds` rounds is reported, each after a warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.pipeline import pipeline
from tests.relevance.evaluate import load_queries

SAMPLE = ROOT / "data" / "sample" / "seed_papers.jsonl"


async def _timed(n: int, queries: list[str], call: Any) -> float:
    for q in queries[:50]:  # warm-up: caches, first-call imports
        await call(q)
    t0 = time.process_time()
    for i in range(n):
        await call(queries[i % len(queries)])
    return (time.process_time() - t0) / n * 1000


async def main(n: int, rounds: int) -> None:
    import httpx

    from paperwire_gateway.app import create_app

    queries = [q.q for q in load_queries() if q.kind == "keyword"]
    async with pipeline("embedded", workers=("enricher", "indexer"), embedded_data_dir=None) as p:
        await p.ingest(str(SAMPLE))
        await p.settle()
        app = create_app(p.backends)
        search = app.state.ctx.search
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as c:

            async def via_gateway(q: str) -> None:
                r = await c.get("/v1/search", params={"q": q, "mode": "keyword"})
                assert r.status_code == 200, r.text

            async def direct(q: str) -> None:
                await search.search(q, mode="keyword", size=10)

            gw = min([await _timed(n, queries, via_gateway) for _ in range(rounds)])
            raw = min([await _timed(n, queries, direct) for _ in range(rounds)])
    print(f"{n} keyword searches x {rounds} rounds, {len(queries)} distinct queries, seed corpus, embedded index")
    print(f"  through the gateway (httpx ASGITransport): {gw:.3f} ms CPU per request")
    print(f"  SearchService.search alone:                 {raw:.3f} ms CPU per request")
    print(f"  gateway + client overhead:                  {gw - raw:.3f} ms CPU per request")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    asyncio.run(main(a.requests, a.rounds))
