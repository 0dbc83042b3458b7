"""TopicStore: the current topics (what the last re-clustering found) and the ids of the events already emitted.

A re-clustering replaces the whole state in one atomic step: every topic, plus the event ids it emitted. Event
ids are kept `emitted_retention_s` (their detection time is the score) so the set stays bounded; a trending id
only has to outlive its window and the next one, a created id only matters for a topic that disappears and
comes back with the very same founding members.

Redis layout (P = `<namespace>paperwire:topics`; one Lua script writes all three keys, all passed in KEYS):

  P           hash   topic id -> TopicRecord JSON
  P:emitted   zset   event id -> detected_at
  P:meta      hash   as_of (time of the last save), topics (count), announced (1: assignments published)

On Redis Cluster the three keys must share a slot: give a namespace with a hash tag (e.g. `prod{pw}-`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .topics import TopicRecord

DAY = 86_400.0
DEFAULT_RETENTION_S = 90 * DAY


@dataclass
class TopicState:
    topics: dict[str, TopicRecord] = field(default_factory=dict)
    emitted: set[str] = field(default_factory=set)
    as_of: float | None = None  # when it was saved; None = never
    # Its members' assignments were published on papers.topics.v1 (every save follows that publication); False
    # for a store saved before that stream existed, whose papers then all get announced.
    announced: bool = False


class TopicStore(Protocol):
    async def load(self) -> TopicState:
        """Every topic and every remembered emitted event id."""
        ...

    async def save(self, topics: Sequence[TopicRecord], emitted: Mapping[str, float], now: float) -> None:
        """Atomically replace every topic with `topics` and remember `emitted` (event id -> detected_at);
        forget event ids detected before now − retention. The caller has published the topics' assignments."""
        ...

    async def list(self) -> list[TopicRecord]:
        """Every current topic (any order)."""
        ...

    async def get(self, topic_id: str) -> TopicRecord | None: ...


class MemoryTopicStore:
    """In-process store (embedded backend): one per process, shared by the job and the gateway."""

    def __init__(self, emitted_retention_s: float = DEFAULT_RETENTION_S) -> None:
        self.retention = emitted_retention_s
        self._topics: dict[str, TopicRecord] = {}
        self._emitted: dict[str, float] = {}
        self._as_of: float | None = None

    async def load(self) -> TopicState:
        return TopicState(dict(self._topics), set(self._emitted), self._as_of, self._as_of is not None)

    async def save(self, topics: Sequence[TopicRecord], emitted: Mapping[str, float], now: float) -> None:
        kept = {k: v for k, v in {**self._emitted, **emitted}.items() if v >= now - self.retention}
        self._topics, self._emitted, self._as_of = {t.id: t for t in topics}, kept, now

    async def list(self) -> list[TopicRecord]:
        return list(self._topics.values())

    async def get(self, topic_id: str) -> TopicRecord | None:
        return self._topics.get(topic_id)


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


def make_topic_store(
    redis: Any, namespace: str = "", *, emitted_retention_s: float = DEFAULT_RETENTION_S
) -> TopicStore:
    """Redis when a client is given (kafka backend), else in memory (embedded backend)."""
    if redis is None:
        return MemoryTopicStore(emitted_retention_s)
    return RedisTopicStore(redis, prefix=f"{namespace}paperwire:topics", emitted_retention_s=emitted_retention_s)


def default_topic_store(backends: Any, *, emitted_retention_s: float = DEFAULT_RETENTION_S) -> TopicStore:
    """The store of these Backends, built once and kept on the instance (`backends.topics`): in embedded mode
    the gateway must read the very store the job writes."""
    store: TopicStore | None = backends.topics
    if store is None:
        store = make_topic_store(backends.redis, backends.settings.namespace, emitted_retention_s=emitted_retention_s)
        backends.topics = store
    return store
