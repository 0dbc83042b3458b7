"""DeliveryStore on Redis (Kafka backend): shared by every notifier and gateway process.

Layout (P = `<namespace>paperwire:notify:{n}`, one hash slot; every script gets its keys in KEYS):

  P:d:<id>        hash    the delivery: sub, channel, type, event, body, rcpt, created, attempts, status, reason
  P:due           zset    "<channel>\\x1f<sub>\\x1f<id>" -> due time (pending only; a claim moves it to now + lease)
  P:a:<sub>       list    attempt JSON, newest first (the last 1000)
  P:dead          zset    id -> time it was dead-lettered
  P:fail          hash    sub -> since when its endpoint has failed without a success

Delivered and dead deliveries expire `retention_s` after they finished (their id then no longer deduplicates).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .port import Attempt, Claim, Delivery, attempt_dict

SEP = "\x1f"
MAX_ATTEMPTS_KEPT = 1000

# KEYS: due; ARGV: prefix, then per delivery 10 fields (id, sub, channel, type, event, body, rcpt, created, due, member)
ENQUEUE = """
local n = 0
for i = 2, #ARGV, 10 do
  local key = ARGV[1] .. ':d:' .. ARGV[i]
  if redis.call('EXISTS', key) == 0 then
    redis.call('HSET', key, 'sub', ARGV[i+1], 'channel', ARGV[i+2], 'type', ARGV[i+3], 'event', ARGV[i+4],
      'body', ARGV[i+5], 'rcpt', ARGV[i+6], 'created', ARGV[i+7], 'attempts', 0, 'status', 'pending',
      'due', ARGV[i+8])
    redis.call('ZADD', KEYS[1], ARGV[i+8], ARGV[i+9])
    n = n + 1
  end
end
return n
"""

# KEYS: due; ARGV: now, lease_until, scan, per_sub (-1 = none), n_channels, (channel, limit)*, (sub, room)*
CLAIM = """
local limits = {}
local n = tonumber(ARGV[5])
local per_sub = tonumber(ARGV[4])
local i = 6
for _ = 1, n do limits[ARGV[i]] = tonumber(ARGV[i+1]); i = i + 2 end
local room = {}
for j = i, #ARGV, 2 do room[ARGV[j]] = tonumber(ARGV[j+1]) end
local out = {}
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, m in ipairs(members) do
  local a = string.find(m, '\\31', 1, true)
  local b = string.find(m, '\\31', a + 1, true)
  local channel = string.sub(m, 1, a - 1)
  local sub = string.sub(m, a + 1, b - 1)
  local left = room[sub]
  if left == nil then if per_sub < 0 then left = 1000000000 else left = per_sub end end
  if left > 0 and (limits[channel] or 0) > 0 then
    room[sub] = left - 1
    limits[channel] = limits[channel] - 1
    redis.call('ZADD', KEYS[1], ARGV[2], m)
    out[#out + 1] = string.sub(m, b + 1)
  end
end
return out
"""

# KEYS: delivery hash, due, attempts list, dead zset
# ARGV: outcome, next_due, member, attempt json, now, reason, retention_s, max_attempts_kept, id
RECORD = """
if redis.call('HGET', KEYS[1], 'status') ~= 'pending' then return 0 end
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if ARGV[1] == 'retry' then
  redis.call('HSET', KEYS[1], 'due', ARGV[2])
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
else
  local status = 'dead'
  if ARGV[1] == 'delivered' then status = 'delivered' end
  redis.call('HSET', KEYS[1], 'status', status, 'reason', ARGV[6], 'finished', ARGV[5])
  redis.call('ZREM', KEYS[2], ARGV[3])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[7]))
  if status == 'dead' then redis.call('ZADD', KEYS[4], ARGV[5], ARGV[9]) end
end
redis.call('LPUSH', KEYS[3], ARGV[4])
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[8]) - 1)
return 1
"""


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def member(d: Delivery) -> str:
    return f"{d.channel}{SEP}{d.subscription_id}{SEP}{d.id}"


class RedisDeliveryStore:
    def __init__(self, redis: Any, *, prefix: str = "paperwire:notify:{n}", retention_s: float = 30 * 86400) -> None:
        self.r, self.p, self.retention_s = redis, prefix, int(retention_s)
        self.k_due, self.k_dead, self.k_fail = f"{prefix}:due", f"{prefix}:dead", f"{prefix}:fail"
        self._enqueue = redis.register_script(ENQUEUE)
        self._claim = redis.register_script(CLAIM)
        self._record = redis.register_script(RECORD)

    def _key(self, delivery_id: str) -> str:
        return f"{self.p}:d:{delivery_id}"

    async def enqueue(self, deliveries: Sequence[Delivery]) -> int:
        n = 0
        for i in range(0, len(deliveries), 500):  # bounded script arguments
            args: list[Any] = [self.p]
            for d in deliveries[i : i + 500]:
                due = d.next_attempt_at if d.next_attempt_at is not None else d.created_at
                args += [
                    d.id,
                    d.subscription_id,
                    d.channel,
                    d.event_type,
                    d.event_id,
                    d.body,
                    d.recipient or "",
                    repr(d.created_at),
                    repr(due),
                    member(d),
                ]
            n += int(await self._enqueue(keys=[self.k_due], args=args))
        return n

    def _delivery(self, delivery_id: str, h: dict[Any, Any]) -> Delivery:
        f = {_s(k): v for k, v in h.items()}
        status = _s(f["status"])
        return Delivery(
            id=delivery_id,
            subscription_id=_s(f["sub"]),
            channel=_s(f["channel"]),  # type: ignore[arg-type]
            event_type=_s(f["type"]),
            event_id=_s(f["event"]),
            body=f["body"] if isinstance(f["body"], bytes) else str(f["body"]).encode(),
            created_at=float(_s(f["created"])),
            recipient=_s(f["rcpt"]) or None,
            attempts=int(_s(f["attempts"])),
            status=status,  # type: ignore[arg-type]
            next_attempt_at=float(_s(f["due"])) if status == "pending" else None,
            reason=_s(f["reason"]) if f.get("reason") else None,
        )

    async def _many(self, ids: Sequence[str]) -> list[Delivery]:
        if not ids:
            return []
        async with self.r.pipeline(transaction=False) as pipe:
            for i in ids:
                pipe.hgetall(self._key(i))
            rows = await pipe.execute()
        return [self._delivery(i, h) for i, h in zip(ids, rows, strict=True) if h]

    async def claim(self, now: float, claim: Claim, lease_s: float) -> list[Delivery]:
        limits = [(c, n) for c, n in claim.limits.items() if n > 0]
        if not limits:
            return []
        per_sub = claim.per_subscription if claim.per_subscription is not None else -1
        args: list[Any] = [repr(now), repr(now + lease_s), 50 * sum(n for _, n in limits), per_sub, len(limits)]
        for c, n in limits:
            args += [c, n]
        for sub in {*claim.skip, *claim.busy}:
            args += [sub, claim.room(sub)]
        ids = [_s(x) for x in await self._claim(keys=[self.k_due], args=args)]
        return await self._many(ids)

    async def record(self, attempt: Attempt, *, reason: str | None = None) -> bool:
        d = await self.get(attempt.delivery_id)
        if d is None:
            return False
        nxt = attempt.next_attempt_at if attempt.outcome == "retry" else 0.0
        done = await self._record(
            keys=[self._key(d.id), self.k_due, f"{self.p}:a:{d.subscription_id}", self.k_dead],
            args=[
                attempt.outcome,
                repr(nxt),
                member(d),
                json.dumps(attempt_dict(attempt)),
                repr(attempt.at),
                reason or "",
                self.retention_s,
                MAX_ATTEMPTS_KEPT,
                d.id,
            ],
        )
        return bool(done)

    async def get(self, delivery_id: str) -> Delivery | None:
        h = await self.r.hgetall(self._key(delivery_id))
        return self._delivery(delivery_id, h) if h else None

    async def attempts(self, subscription_id: str, limit: int = 100) -> list[Attempt]:
        rows = await self.r.lrange(f"{self.p}:a:{subscription_id}", 0, max(limit, 1) - 1)
        return [Attempt(**json.loads(r)) for r in rows]

    async def dead_letters(self, limit: int = 100) -> list[Delivery]:
        ids = [_s(x) for x in await self.r.zrevrange(self.k_dead, 0, max(limit, 1) - 1)]
        return await self._many(ids)

    async def pending(self) -> int:
        return int(await self.r.zcard(self.k_due))

    async def endpoint_failed(self, subscription_id: str, now: float) -> float:
        await self.r.hsetnx(self.k_fail, subscription_id, repr(now))
        return float(_s(await self.r.hget(self.k_fail, subscription_id)))

    async def endpoint_succeeded(self, subscription_id: str) -> None:
        await self.r.hdel(self.k_fail, subscription_id)
