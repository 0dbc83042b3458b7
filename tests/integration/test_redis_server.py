"""Real Redis: the sorted-set and scripting operations the trend store relies on."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

pytestmark = pytest.mark.redis


async def test_sorted_sets_and_lua(redis_url: str, namespace: str) -> None:
    r = Redis.from_url(redis_url)
    key = f"{{{namespace}}}z"
    try:
        await r.zincrby(key, 1.5, "a")
        await r.zincrby(key, 2.0, "b")
        await r.zincrby(key, 1.0, "a")
        top = await r.zrevrange(key, 0, -1, withscores=True)
        assert top == [(b"a", 2.5), (b"b", 2.0)]
        script = r.register_script("return redis.call('ZINCRBY', KEYS[1], ARGV[1], ARGV[2])")
        assert float(await script(keys=[key], args=[0.25, "b"])) == 2.25
        assert await r.zcard(key) == 2
        info = await r.info("server")
        assert int(str(info["redis_version"]).split(".")[0]) >= 7
    finally:
        await r.delete(key)
        await r.aclose()
