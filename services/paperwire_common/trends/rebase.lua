-- Rebase one window: T0 -> T0' and every S of the window -> S * 2^(-(T0' - T0)/H), so no exponent (ts - T0)/H
-- grows past float64's range. Mirrors EmbeddedTrendStore.rebase (the same multiplication of the same values).
--
-- ARGV[1] window, ARGV[2] T0', ARGV[3] half-life, ARGV[4] how many topics the caller read from the topics set,
-- ARGV[5] the window's index in the record layout (1-based), ARGV[6] event types per window, ARGV[7] record size
-- KEYS[1] meta, KEYS[2] topics set, KEYS[3] scratch zset, KEYS[4] scratch hash, KEYS[5] records hash,
-- KEYS[6..] the window's sorted sets (its ranking and every topic ranking)
-- Returns "ok" | "noop" (already at or past T0') | "retry" (a topic appeared since the caller listed them).
-- Cost: O(papers), once per ~max_exponent half-lives (512 days for H = 24 h); it blocks Redis meanwhile.

if redis.call('SCARD', KEYS[2]) ~= tonumber(ARGV[4]) then return 'retry' end
local t0 = redis.call('HGET', KEYS[1], 't0:' .. ARGV[1])
local newt0, h = tonumber(ARGV[2]), tonumber(ARGV[3])
if not t0 or newt0 <= tonumber(t0) then return 'noop' end
local f = 2 ^ (-(newt0 - tonumber(t0)) / h)
local wi, NE, R = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local RFMT = '<' .. string.rep('d', R)
local first = (wi - 1) * (1 + NE) + 1 -- the window's S, then its NE event-type sums
local CHUNK = 500

-- Copy into a scratch key, then RENAME: rescaling a zset in place could reorder members (negative scores move
-- up) and make rank-based chunks visit a member twice or never; HSCAN may return a field twice.
local ztmp, htmp = KEYS[3], KEYS[4]
for i = 6, #KEYS do
  local k = KEYS[i]
  local card = redis.call('ZCARD', k)
  if card > 0 then
    redis.call('DEL', ztmp)
    for start = 0, card - 1, CHUNK do
      local rows = redis.call('ZRANGE', k, start, start + CHUNK - 1, 'WITHSCORES')
      local args = {}
      for j = 1, #rows, 2 do
        args[#args + 1] = string.format('%.17g', tonumber(rows[j + 1]) * f)
        args[#args + 1] = rows[j]
      end
      redis.call('ZADD', ztmp, unpack(args))
    end
    redis.call('RENAME', ztmp, k)
  end
end

local recs = KEYS[5]
if redis.call('EXISTS', recs) == 1 then
  redis.call('DEL', htmp)
  local cursor = '0'
  repeat
    local page = redis.call('HSCAN', recs, cursor, 'COUNT', CHUNK)
    cursor = page[1]
    local rows, args = page[2], {}
    for j = 1, #rows, 2 do
      local r = {struct.unpack(RFMT, rows[j + 1])}
      r[R + 1] = nil
      for i = first, first + NE do r[i] = r[i] * f end -- NaN (no contribution) stays NaN
      args[#args + 1] = rows[j]
      args[#args + 1] = struct.pack(RFMT, unpack(r))
    end
    if #args > 0 then redis.call('HSET', htmp, unpack(args)) end
  until cursor == '0'
  redis.call('RENAME', htmp, recs)
end
redis.call('HSET', KEYS[1], 't0:' .. ARGV[1], string.format('%.17g', newt0))
return 'ok'
