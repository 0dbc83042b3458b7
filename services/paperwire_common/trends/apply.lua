-- TrendStore.apply as one atomic Redis script. embedded.py (_Apply) mirrors it statement by statement: the two
-- must do the same float operations in the same order, so keep them in step.
--
-- ARGV[1] key prefix (holds the {hash tag}), ARGV[2] consumer, ARGV[3] max exponent, ARGV[4] dedupe horizon (s),
-- ARGV[5] JSON {"w": [[window, half_life]...], "o": [[tp, next_offset]...],
--               "u": [[kind, etype, paper, ts, weight, tp, offset, event_id, key, until, stars, [topics], version]...]}
-- KEYS: every key the call may touch: the fixed keys, seen:<tp> of each engagement partition in the call and the
-- topic sorted sets of every topic of every paper in the call (Redis Cluster: all share one hash slot).
-- Returns {"ok", applied, {late index...}} | {"rebase", window} | {"retry", {missing key...}}; the last two write
-- nothing (the client rebases the window, or re-reads the papers' topics, and calls again).

local P, consumer = ARGV[1], ARGV[2]
local maxexp, horizon = tonumber(ARGV[3]), tonumber(ARGV[4])
local data = cjson.decode(ARGV[5])
local W, U = data.w, data.u
local n = #U

local META, PAPERS, VOTES = P .. ':meta', P .. ':papers', P .. ':votes'
local STARS, COUNTS, TOPICS = P .. ':stars', P .. ':counts', P .. ':topics'
local OFFS = P .. ':offsets:' .. consumer
local ZG, ZP, ZE, ZT, SEEN = {}, {}, {}, {}, {}
for _, wh in ipairs(W) do
  local w = wh[1]
  ZG[w], ZP[w], ZE[w], ZT[w] = P .. ':z:' .. w, P .. ':z:' .. w .. ':pending', {}, {}
end
local function ze(w, e)
  local k = ZE[w][e]
  if not k then k = P .. ':z:' .. w .. ':e:' .. e; ZE[w][e] = k end
  return k
end
local function zt(w, t)
  local k = ZT[w][t]
  if not k then k = P .. ':z:' .. w .. ':t:' .. t; ZT[w][t] = k end
  return k
end
local function seenkey(tp)
  local k = SEEN[tp]
  if not k then k = P .. ':seen:' .. tp; SEEN[tp] = k end
  return k
end
local function fmt(x) return string.format('%.17g', x) end

-- ---- pre-pass: every check happens before the first write (a script is isolated, not transactional) ----
local declared, missing = {}, {}
for _, k in ipairs(KEYS) do declared[k] = true end
local function need(k) if not declared[k] then missing[#missing + 1] = k end end
for _, k in ipairs({META, PAPERS, VOTES, STARS, COUNTS, TOPICS, OFFS}) do need(k) end
for _, wh in ipairs(W) do need(ZG[wh[1]]); need(ZP[wh[1]]) end

for _, wh in ipairs(W) do
  local h = redis.call('HGET', META, 'h:' .. wh[1])
  if h and tonumber(h) ~= wh[2] then
    return redis.error_reply('HALFLIFE half-life of window ' .. wh[1] .. ' changed (' .. h .. ' -> ' ..
      fmt(wh[2]) .. '); rebuild the trend store')
  end
end

local maxts = -math.huge
for i = 1, n do
  local u = U[i]
  local ts, wt, un = u[4], u[5], u[10]
  if ts ~= ts or wt ~= wt or un ~= un or math.abs(ts) == math.huge or math.abs(wt) == math.huge
      or math.abs(un) == math.huge then
    return redis.error_reply('non-finite ts/weight in update ' .. u[8])
  end
  if ts > maxts then maxts = ts end
end

local t0, newt0 = {}, {}
for _, wh in ipairs(W) do
  local w, h = wh[1], wh[2]
  local t = redis.call('HGET', META, 't0:' .. w)
  if t then
    t = tonumber(t)
    if n > 0 and (maxts - t) / h > maxexp then return {'rebase', w} end
  elseif n > 0 then
    t = maxts
    newt0[w] = h
  end
  t0[w] = t
end

-- paper -> {version, joined topics, {topics}} or false; loaded once, kept current through the write pass
local info = {}
for i = 1, n do
  local u = U[i]
  local p = u[3]
  if info[p] == nil then
    local raw = redis.call('HGET', PAPERS, p)
    if raw then
      local sep = string.find(raw, '\30', 1, true)
      local joined, topics = string.sub(raw, sep + 1), {}
      for t in string.gmatch(joined, '[^\31]+') do topics[#topics + 1] = t end
      info[p] = {tonumber(string.sub(raw, 1, sep - 1)), joined, topics}
      for _, t in ipairs(topics) do for _, wh in ipairs(W) do need(zt(wh[1], t)) end end
    else
      info[p] = false
    end
  end
  if u[1] == 'p' then
    for _, t in ipairs(u[12]) do for _, wh in ipairs(W) do need(zt(wh[1], t)) end end
  else
    need(seenkey(u[6]))
  end
end
if #missing > 0 then return {'retry', missing} end

-- ---- write pass ----
local applied, late = 0, {}
local stored, nextoff = {}, {}
local wm, wmdirty, touched = {}, {}, {}

local function storedoff(tp)
  local v = stored[tp]
  if v == nil then
    v = tonumber(redis.call('HGET', OFFS, tp)) or 0
    stored[tp] = v
  end
  return v
end

local function getwm(tp)
  local v = wm[tp]
  if v == nil then
    v = redis.call('HGET', META, 'wm:' .. tp)
    if v then v = tonumber(v) else v = -math.huge end
    wm[tp] = v
  end
  return v
end

local function contribute(p, etype, ts, weight, count)
  local pi = info[p]
  for _, wh in ipairs(W) do
    local w, h = wh[1], wh[2]
    local c = weight * 2 ^ ((ts - t0[w]) / h)
    if pi then
      local s = tonumber(redis.call('ZINCRBY', ZG[w], c, p))
      for _, t in ipairs(pi[3]) do redis.call('ZADD', zt(w, t), s, p) end
    else
      redis.call('ZINCRBY', ZP[w], c, p)
    end
    redis.call('ZINCRBY', ze(w, etype), c, p)
  end
  redis.call('HINCRBY', COUNTS, etype .. '\31' .. p, count)
end

local function engagement(u, sk)
  local kind, p, ts, weight = u[1], u[3], u[4], u[5]
  if kind == 'a' then
    contribute(p, u[2], ts, weight, 1)
  elseif kind == 'o' then
    local km = 'o\31' .. u[9]
    if redis.call('ZSCORE', sk, km) then return false end
    redis.call('ZADD', sk, u[10], km)
    contribute(p, u[2], ts, weight, 1)
  elseif kind == 'u' then
    local f = p .. '\31' .. u[9]
    if redis.call('HEXISTS', VOTES, f) == 1 then return false end
    -- the upvote's own ts and weight, so an unvote withdraws exactly this contribution
    redis.call('HSET', VOTES, f, fmt(ts) .. ' ' .. fmt(weight))
    contribute(p, 'upvote', ts, weight, 1)
  elseif kind == 'x' then
    local f = p .. '\31' .. u[9]
    local v = redis.call('HGET', VOTES, f)
    if not v then return false end
    redis.call('HDEL', VOTES, f)
    local sp = string.find(v, ' ', 1, true)
    contribute(p, 'upvote', tonumber(string.sub(v, 1, sp - 1)), -tonumber(string.sub(v, sp + 1)), -1)
  elseif kind == 's' then
    local stars = u[11]
    local hw = redis.call('HGET', STARS, p)
    if hw then
      hw = tonumber(hw)
      if stars <= hw then return false end
    end
    redis.call('HSET', STARS, p, stars)
    -- the first snapshot is the baseline: velocity needs a previous one
    if hw then contribute(p, 'star', ts, weight * (stars - hw), stars - hw) end
  end
  return true
end

local function paper(u)
  local p, ts, weight, topics, version = u[3], u[4], u[5], u[12], u[13]
  local joined = table.concat(topics, '\31')
  local pi = info[p]
  if not pi then
    for _, wh in ipairs(W) do
      local w, h = wh[1], wh[2]
      local s0 = 0
      local pend = redis.call('ZSCORE', ZP[w], p)
      if pend then
        s0 = tonumber(pend)
        redis.call('ZREM', ZP[w], p)
      end
      local c = weight * 2 ^ ((ts - t0[w]) / h)
      local s = s0 + c
      redis.call('ZADD', ZG[w], s, p)
      redis.call('ZINCRBY', ze(w, 'prior'), c, p)
      for _, t in ipairs(topics) do redis.call('ZADD', zt(w, t), s, p) end
    end
    redis.call('HINCRBY', COUNTS, 'prior\31' .. p, 1)
  elseif version >= pi[1] and joined ~= pi[2] then
    local new, old = {}, {}
    for _, t in ipairs(topics) do new[t] = true end
    for _, t in ipairs(pi[3]) do old[t] = true end
    for _, wh in ipairs(W) do
      local w = wh[1]
      local s = redis.call('ZSCORE', ZG[w], p)
      for _, t in ipairs(pi[3]) do if not new[t] then redis.call('ZREM', zt(w, t), p) end end
      for _, t in ipairs(topics) do if not old[t] then redis.call('ZADD', zt(w, t), s, p) end end
    end
  else
    if version > pi[1] then
      redis.call('HSET', PAPERS, p, string.format('%d', version) .. '\30' .. pi[2])
      info[p] = {version, pi[2], pi[3]}
    end
    return
  end
  redis.call('HSET', PAPERS, p, string.format('%d', version) .. '\30' .. joined)
  info[p] = {version, joined, topics}
  for _, t in ipairs(topics) do redis.call('SADD', TOPICS, t) end
  applied = applied + 1
end

for i = 1, n do
  local u = U[i]
  local tp, off = u[6], u[7]
  local nx = nextoff[tp]
  if nx == nil then nx = storedoff(tp) end
  if off >= nx then
    nextoff[tp] = off + 1
    if u[1] == 'p' then
      paper(u)
    else
      local ts = u[4]
      local w0 = getwm(tp)
      if ts < w0 - horizon then
        late[#late + 1] = i - 1
      else
        if ts > w0 then
          wm[tp] = ts
          wmdirty[tp] = true
        end
        touched[tp] = true
        local sk = seenkey(tp)
        local idm = 'i\31' .. u[8]
        if not redis.call('ZSCORE', sk, idm) then
          redis.call('ZADD', sk, ts, idm)
          if engagement(u, sk) then applied = applied + 1 end
        end
      end
    end
  end
end

-- offsets: kept as a maximum of what was stored, what the updates reached and what the caller passed
local final = {}
for tp, o in pairs(nextoff) do final[tp] = o end
for _, to in ipairs(data.o) do
  local tp, o = to[1], to[2]
  if final[tp] == nil or o > final[tp] then final[tp] = o end
end
for tp, o in pairs(final) do
  if o > storedoff(tp) then redis.call('HSET', OFFS, tp, o) end
end
for tp in pairs(touched) do
  redis.call('ZREMRANGEBYSCORE', seenkey(tp), '-inf', '(' .. fmt(wm[tp] - horizon))
end
for tp in pairs(wmdirty) do redis.call('HSET', META, 'wm:' .. tp, wm[tp]) end
for w, h in pairs(newt0) do redis.call('HSET', META, 't0:' .. w, t0[w], 'h:' .. w, h) end
return {'ok', applied, late}
