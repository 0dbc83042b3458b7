"""Redis TopicStore (kafka backend): one Lua script replaces the whole state atomically.

Redis layout (P = `<namespace>paperwire:topics`; the script writes all three keys, all passed in KEYS):

  P           hash   topic id -> TopicRecord JSON
  P:emitted   zset   event id -> detected_at
  P:meta      hash   as_of (time of the last save), topics (count), announced (1: assignments published)

On Redis Cluster the three keys must share a slot: give a namespace with a hash tag (e.g. `prod{pw}-`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .model import TopicRecord
from .port import DEFAULT_RETENTION_S, TopicState

# KEYS: topics hash, emitted zset, meta hash.
# ARGV: now, cutoff, n, then n (topic id, json) pairs, then (event id, detected_at) pairs.
SAVE_LUA = """
redis.call('DEL', KEYS[1])
local n = tonumber(ARGV[3])
local last = 3 + 2 * n
local i = 4
while i <= last do
  local j = math.min(i + 199, last)
  redis.call('HSET', KEYS[1], unpack(ARGV, i, j))
  i = j + 1
end
while i <= #ARGV do
  local j = math.min(i + 199, #ARGV)
  local args = {}
  for k = i, j, 2 do
    args[#args + 1] = ARGV[k + 1]
    args[#args + 1] = ARGV[k]
  end
  redis.call('ZADD', KEYS[2], unpack(args))
  i = j + 1
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[2])
redis.call('HSET', KEYS[3], 'as_of', ARGV[1], 'topics', n, 'announced', '1')
return n
"""


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class RedisTopicStore:
    def __init__(
        self, redis: Any, *, prefix: str = "paperwire:topics", emitted_retention_s: float = DEFAULT_RETENTION_S
    ) -> None:
        self.r = redis
        self.retention = emitted_retention_s
        self.k_topics, self.k_emitted, self.k_meta = prefix, f"{prefix}:emitted", f"{prefix}:meta"
        self._save = redis.register_script(SAVE_LUA)

    async def load(self) -> TopicState:
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.hgetall(self.k_topics)
            pipe.zrange(self.k_emitted, 0, -1)
            pipe.hget(self.k_meta, "as_of")
            pipe.hget(self.k_meta, "announced")
            raw, emitted, as_of, announced = await pipe.execute()
        topics = {_s(k): TopicRecord.model_validate_json(v) for k, v in raw.items()}
        when = float(_s(as_of)) if as_of is not None else None
        return TopicState(topics, {_s(e) for e in emitted}, when, announced is not None)

    async def save(self, topics: Sequence[TopicRecord], emitted: Mapping[str, float], now: float) -> None:
        args: list[str | float] = [repr(now), repr(now - self.retention), len(topics)]
        for t in topics:
            args += [t.id, t.model_dump_json()]
        for eid, ts in emitted.items():
            args += [eid, repr(float(ts))]
        await self._save(keys=[self.k_topics, self.k_emitted, self.k_meta], args=args)

    async def list(self) -> list[TopicRecord]:
        raw = await self.r.hvals(self.k_topics)
        return [TopicRecord.model_validate_json(v) for v in raw]

    async def get(self, topic_id: str) -> TopicRecord | None:
        raw = await self.r.hget(self.k_topics, topic_id)
        return TopicRecord.model_validate_json(raw) if raw is not None else None

    async def close(self) -> None:
        return None  # the client belongs to the caller (Backends closes it)
