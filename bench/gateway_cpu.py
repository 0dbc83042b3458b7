"""The gateway's CPU per keyword search, in process, beside the search service alone; and the cost of access
control (bearer key + rate limit) side by side with the same gateway without it.

    .venv/bin/python bench/gateway_cpu.py [--requests 2000] [--rounds 3]

The seed corpus goes through the embedded pipeline (ingestor -> enricher -> indexer, embeddings off) into the
in-memory embedded index. Then `--requests` keyword searches (the judged seed queries, round robin) run
1. straight through `SearchService.search` with the same arguments;
2. through the whole FastAPI app (`create_app`: middleware, dependencies, validation, response model, JSON) with
   httpx's ASGITransport, one request at a time, in three set-ups:
   - `access off`: the app without the access middleware (no key check, no quota) — the baseline;
   - `anonymous`: no key, the per-address quota counted (the `limits` sliding window, in memory);
   - `with key`: `Authorization: Bearer <key>` verified (KeyService, cached) and the key's quota counted;
   - `key, redis` (with `--redis URL`): the same, the quota in Redis as on the kafka backend (two round trips).
Each round runs every set-up, in a shuffled order (the box is shared: its speed drifts); the best round of each
is reported, each after a warm-up, with the process CPU time per request and the overhead over the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.pipeline import pipeline
from tests.relevance.evaluate import load_queries

SAMPLE = ROOT / "data" / "sample" / "seed_papers.jsonl"
MASTER = "bench-master-key-0123456789abcdef"


async def _timed(n: int, queries: list[str], call: Any) -> float:
    for q in queries[:50]:  # warm-up: caches, first-call imports
        await call(q)
    t0 = time.process_time()
    for i in range(n):
        await call(queries[i % len(queries)])
    return (time.process_time() - t0) / n * 1000


def without_access(app: Any) -> Any:
    """The same app with the access middleware taken out (before its middleware stack is first built)."""
    from paperwire_gateway.access import Access

    app.user_middleware = [m for m in app.user_middleware if m.cls is not Access]
    return app


async def main(n: int, rounds: int, redis_url: str | None) -> None:
    import httpx

    from paperwire_gateway.app import create_app
    from paperwire_gateway.settings import GatewaySettings

    queries = [q.q for q in load_queries() if q.kind == "keyword"]
    quota = GatewaySettings(rate_limit_key="100000000/minute", rate_limit_anonymous="100000000/minute")
    async with pipeline("embedded", workers=("enricher", "indexer"), embedded_data_dir=None) as p:
        await p.ingest(str(SAMPLE))
        await p.settle()
        apps = {
            "access off": without_access(create_app(p.backends, quota, master_key=MASTER)),
            "anonymous": create_app(p.backends, quota, master_key=MASTER),
            "with key": create_app(p.backends, quota, master_key=MASTER),
        }
        if redis_url:
            import uuid

            from limits.aio.storage import RedisStorage

            from paperwire_gateway.ratelimit import RateLimits

            storage = RedisStorage(
                "async+" + redis_url, implementation="redispy", key_prefix=f"bench{uuid.uuid4().hex}"
            )
            limits = RateLimits(storage, quota.rate_limit_key, quota.rate_limit_anonymous)
            apps["key, redis"] = create_app(p.backends, quota, master_key=MASTER, rate_limits=limits)
        _, token = await apps["with key"].state.ctx.keys.create("bench", ["events:write"])
        auth = {"Authorization": f"Bearer {token}"}
        headers = {"with key": auth, "key, redis": auth}
        search = apps["anonymous"].state.ctx.search
        clients = {
            name: httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench", headers=headers.get(name, {})
            )
            for name, app in apps.items()
        }

        def via(name: str) -> Any:
            c = clients[name]

            async def call(q: str) -> None:
                r = await c.get("/v1/search", params={"q": q, "mode": "keyword"})
                assert r.status_code == 200, r.text
                if name != "access off":
                    assert "ratelimit" in r.headers

            return call

        async def direct(q: str) -> None:
            await search.search(q, mode="keyword", size=10)

        best: dict[str, float] = {}
        setups = [("service alone", direct), *((k, via(k)) for k in apps)]
        order = random.Random(7)
        for _ in range(rounds):
            order.shuffle(setups)  # no set-up always runs first or last in a round
            for name, call in setups:
                ms = await _timed(n, queries, call)
                best[name] = min(best.get(name, ms), ms)
        for c in clients.values():
            await c.aclose()
    base = best["access off"]
    print(f"{n} keyword searches x {rounds} rounds, {len(queries)} distinct queries, seed corpus, embedded index")
    print(f"  SearchService.search alone:            {best['service alone']:.3f} ms CPU per request")
    for name in apps:
        extra = (best[name] - base) / base * 100
        print(f"  gateway, {name:10} (httpx ASGI):  {best[name]:.3f} ms CPU per request  ({extra:+.1f}% vs access off)")
    print(f"  gateway + client overhead (access off): {base - best['service alone']:.3f} ms CPU per request")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--redis", metavar="URL", help="also measure the quota in this Redis (e.g. redis://127.0.0.1:6379/0)"
    )
    a = ap.parse_args()
    asyncio.run(main(a.requests, a.rounds, a.redis))
