"""Redis IntakeStore (kafka backend): every gateway replica shares the claims and the star ledger.

Layout (P = `<namespace>paperwire:intake`): `P:claim:<key>` strings with a TTL (SET NX EX, then GET, in one
MULTI); `P:stars` hash, paper id -> "stars ts", checked and written by one Lua script (the rule of
port.star_refusal).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .port import StarRefusal, StarSnapshot

# KEYS[1]: the ledger hash. ARGV: rate, then (paper id, stars, ts) triples.
# Returns the refusals as a flat list: index (0-based), previous stars, previous ts, allowed gain.
CHECK_STARS_LUA = """
local rate = tonumber(ARGV[1])
local ledger, changed, refused = {}, {}, {}
for i = 2, #ARGV, 3 do
  local pid, stars, ts = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local prev = ledger[pid]
  if prev == nil then
    local raw = redis.call('HGET', KEYS[1], pid)
    if raw then
      local s, t = string.match(raw, '^(%S+) (%S+)$')
      prev = {tonumber(s), tonumber(t)}
    end
  end
  if prev == nil then
    ledger[pid] = {stars, ts}
    changed[pid] = true
  else
    ledger[pid] = prev
    local gain = stars - prev[1]
    if gain > 0 then
      local allowed = rate * math.max(0, ts - prev[2])
      if gain > allowed then
        table.insert(refused, (i - 2) / 3)
        table.insert(refused, string.format('%d', prev[1]))
        table.insert(refused, string.format('%.17g', prev[2]))
        table.insert(refused, string.format('%.17g', allowed))
      else
        ledger[pid] = {stars, ts}
        changed[pid] = true
      end
    end
  end
end
if #refused == 0 then
  for pid, _ in pairs(changed) do
    local v = ledger[pid]
    redis.call('HSET', KEYS[1], pid, string.format('%d %.17g', v[1], v[2]))
  end
end
return refused
"""


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class RedisIntakeStore:
    def __init__(self, redis: Any, *, prefix: str = "paperwire:intake") -> None:
        self.r = redis
        self.claim_prefix, self.k_stars = f"{prefix}:claim:", f"{prefix}:stars"
        self._check = redis.register_script(CHECK_STARS_LUA)

    async def claim(self, entries: Mapping[str, str], ttl_s: float, now: float) -> dict[str, str]:
        if not entries:
            return {}
        ms = max(1, int(ttl_s * 1000))
        async with self.r.pipeline(transaction=True) as pipe:
            for k, v in entries.items():
                pipe.set(self.claim_prefix + k, v, nx=True, px=ms)
                pipe.get(self.claim_prefix + k)
            out = await pipe.execute()
        return {k: _s(out[2 * i + 1]) for i, k in enumerate(entries)}

    async def check_stars(self, snapshots: Sequence[StarSnapshot], rate_per_s: float) -> list[StarRefusal]:
        if not snapshots:
            return []
        args: list[str | int] = [repr(float(rate_per_s))]
        for s in snapshots:
            args += [s.paper_id, int(s.stars), repr(float(s.ts))]
        flat = await self._check(keys=[self.k_stars], args=args)
        return [
            StarRefusal(int(flat[i]), int(_s(flat[i + 1])), float(_s(flat[i + 2])), float(_s(flat[i + 3])))
            for i in range(0, len(flat), 4)
        ]
