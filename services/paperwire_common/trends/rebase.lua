-- Rebase one window: T0 -> T0' and every sorted set of the window S -> S * 2^(-(T0' - T0)/H), so no exponent
-- (ts - T0)/H grows past float64's range. Mirrors EmbeddedTrendStore.rebase (same multiplication).
--
-- ARGV[1] window, ARGV[2] T0', ARGV[3] half-life, ARGV[4] how many topics the caller read from the topics set
-- KEYS[1] meta, KEYS[2] topics set, KEYS[3] scratch key, KEYS[4..] every sorted set of the window
-- Returns "ok" | "noop" (already at or past T0') | "retry" (a topic appeared since the caller listed them).
-- Cost: O(members of the window's sorted sets), once per ~max_exponent half-lives (512 days for H = 24 h).

if redis.call('SCARD', KEYS[2]) ~= tonumber(ARGV[4]) then return 'retry' end
local t0 = redis.call('HGET', KEYS[1], 't0:' .. ARGV[1])
local newt0, h = tonumber(ARGV[2]), tonumber(ARGV[3])
if not t0 or newt0 <= tonumber(t0) then return 'noop' end
local f = 2 ^ (-(newt0 - tonumber(t0)) / h)
local tmp, CHUNK = KEYS[3], 500

-- Copy into a scratch key, then RENAME: rescaling in place could reorder members (negative scores move up)
-- and make rank-based chunks visit a member twice or never.
for i = 4, #KEYS do
  local k = KEYS[i]
  local card = redis.call('ZCARD', k)
  if card > 0 then
    redis.call('DEL', tmp)
    for start = 0, card - 1, CHUNK do
      local rows = redis.call('ZRANGE', k, start, start + CHUNK - 1, 'WITHSCORES')
      local args = {}
      for j = 1, #rows, 2 do
        args[#args + 1] = tonumber(rows[j + 1]) * f
        args[#args + 1] = rows[j]
      end
      redis.call('ZADD', tmp, unpack(args))
    end
    redis.call('RENAME', tmp, k)
  end
end
redis.call('HSET', KEYS[1], 't0:' .. ARGV[1], newt0)
return 'ok'
