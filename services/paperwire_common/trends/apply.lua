-- TrendStore.apply as one atomic Redis script. embedded.py (_Apply) states the same semantics per event; this
-- script does the same float operations in the same order on values it bulk-reads first (HMGET/ZMSCORE),
-- keeps in Lua tables while it walks the batch, and bulk-writes at the end: a few dozen commands per batch
-- instead of a dozen per event. Keep the two in step.
--
-- ARGV[1] key prefix (holds the {hash tag}), ARGV[2] consumer, ARGV[3] max exponent, ARGV[4] dedupe horizon (s),
-- ARGV[5] JSON {"w": [[window, half_life]...], "tp": ["topic:partition"...], "o": [[tp index, next offset]...],
--   "u": [[kind, etype, paper, ts, weight, tp index, offset, event id, <by kind>]...]}, by kind:
--   "o": key, until | "u", "x": actor | "s": stars | "p": [topics], version | "a": nothing
-- KEYS: every key the call may touch: the fixed keys, seen:<tp> of each engagement partition in the call and the
-- topic sorted sets of every topic of every paper in the call (Redis Cluster: all share one hash slot).
-- Returns {"ok", applied, {late index...}} | {"rebase", window} | {"retry", {missing key...}}; the last two write
-- nothing (the client rebases the window, or re-reads the papers' topics, and calls again).

local P, consumer = ARGV[1], ARGV[2]
local maxexp, horizon = tonumber(ARGV[3]), tonumber(ARGV[4])
local data = cjson.decode(ARGV[5])
local W, TP, U = data.w, data.tp, data.u
local n = #U
local CHUNK = 1000 -- members per bulk command (Lua's unpack has a stack limit)

local META, PAPERS, VOTES = P .. ':meta', P .. ':papers', P .. ':votes'
local STARS, COUNTS, TOPICS = P .. ':stars', P .. ':counts', P .. ':topics'
local OFFS = P .. ':offsets:' .. consumer
local ZG, ZP, ZE, ZT = {}, {}, {}, {}
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
local SEENK = {}
for i, tp in ipairs(TP) do SEENK[i] = P .. ':seen:' .. tp end
local function fmt(x) return string.format('%.17g', x) end

-- bulk helpers: read -> {member = value | false}; write -> one command per CHUNK members
local function bulk_read(cmd, key, members)
  local out = {}
  if #members <= CHUNK then
    if #members > 0 then
      local vals = redis.call(cmd, key, unpack(members))
      for j, m in ipairs(members) do out[m] = vals[j] end
    end
    return out
  end
  for i = 1, #members, CHUNK do
    local part = {}
    for j = i, math.min(i + CHUNK - 1, #members) do part[#part + 1] = members[j] end
    local vals = redis.call(cmd, key, unpack(part))
    for j, m in ipairs(part) do out[m] = vals[j] end
  end
  return out
end
local function bulk_write(cmd, key, args, width)
  local step = CHUNK * width
  for i = 1, #args, step do redis.call(cmd, key, unpack(args, i, math.min(i + step - 1, #args))) end
end
local function num(v) if v then return tonumber(v) end return nil end
-- a set that remembers insertion order, for bulk member lists
local function newset() return {list = {}, has = {}} end
local function add(s, m) if not s.has[m] then s.has[m] = true; s.list[#s.list + 1] = m end end

-- ---- pre-pass: every check and every read happens before the first write ----
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
  local ts, wt = u[4], u[5]
  if ts ~= ts or wt ~= wt or math.abs(ts) == math.huge or math.abs(wt) == math.huge then
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

-- what the batch will read: members per structure
local papers, etm, cfields, vfields, spapers = newset(), {}, newset(), newset(), newset()
local seenm = {}
for i = 1, #TP do seenm[i] = newset() end
local function etype_of(u)
  local k = u[1]
  if k == 'u' or k == 'x' then return 'upvote' end
  return u[2]
end
for i = 1, n do
  local u = U[i]
  local kind, p = u[1], u[3]
  add(papers, p)
  local e = etype_of(u)
  if not etm[e] then etm[e] = newset() end
  add(etm[e], p)
  add(cfields, e .. '\31' .. p)
  if kind ~= 'p' then
    add(seenm[u[6]], 'i\31' .. u[8])
    need(SEENK[u[6]])
    if kind == 'o' then add(seenm[u[6]], 'o\31' .. u[9])
    elseif kind == 'u' or kind == 'x' then add(vfields, p .. '\31' .. u[9])
    elseif kind == 's' then add(spapers, p) end
  else
    for _, t in ipairs(u[9]) do for _, wh in ipairs(W) do need(zt(wh[1], t)) end end
  end
end

-- paper -> {version, joined topics, {topics}} or false
local info, known, unknown = {}, {}, {}
for p, raw in pairs(bulk_read('HMGET', PAPERS, papers.list)) do
  if raw then
    known[#known + 1] = p
    local sep = string.find(raw, '\30', 1, true)
    local joined, topics = string.sub(raw, sep + 1), {}
    for t in string.gmatch(joined, '[^\31]+') do topics[#topics + 1] = t end
    info[p] = {tonumber(string.sub(raw, 1, sep - 1)), joined, topics}
    for _, t in ipairs(topics) do for _, wh in ipairs(W) do need(zt(wh[1], t)) end end
  else
    info[p] = false
    unknown[#unknown + 1] = p
  end
end
if #missing > 0 then return {'retry', missing} end

local G, PD, E = {}, {}, {}
for _, wh in ipairs(W) do
  local w = wh[1]
  G[w], PD[w], E[w] = {}, {}, {}
  -- a known paper is ranked (never pending), an unknown one only pending
  for p, v in pairs(bulk_read('ZMSCORE', ZG[w], known)) do G[w][p] = num(v) end
  for p, v in pairs(bulk_read('ZMSCORE', ZP[w], unknown)) do PD[w][p] = num(v) end
  for e, s in pairs(etm) do
    E[w][e] = {}
    for p, v in pairs(bulk_read('ZMSCORE', ze(w, e), s.list)) do E[w][e][p] = num(v) end
  end
end
local CNT = {}
for f, v in pairs(bulk_read('HMGET', COUNTS, cfields.list)) do CNT[f] = num(v) end
local VOT = bulk_read('HMGET', VOTES, vfields.list)
local STR = {}
for p, v in pairs(bulk_read('HMGET', STARS, spapers.list)) do STR[p] = num(v) end
local SEEN = {}
for i = 1, #TP do SEEN[i] = bulk_read('ZMSCORE', SEENK[i], seenm[i].list) end
local stored, wm = {}, {}
for i, tp in ipairs(TP) do
  stored[i] = tonumber(redis.call('HGET', OFFS, tp)) or 0
  wm[i] = num(redis.call('HGET', META, 'wm:' .. tp)) or -math.huge
end

-- ---- walk the batch on the tables (same operations, same order as embedded.py) ----
local applied, late = 0, {}
local nextoff, touched, wmdirty = {}, {}, {}
local dG, dP, dE, dC, dV, dS, dInfo, mirror, oldtopics = {}, {}, {}, {}, {}, {}, {}, {}, {}
local newseen = {}
for i = 1, #TP do newseen[i] = {} end
for _, wh in ipairs(W) do dG[wh[1]], dP[wh[1]], dE[wh[1]] = {}, {}, {} end

local function contribute(p, etype, ts, weight, count)
  local known = info[p]
  for _, wh in ipairs(W) do
    local w, h = wh[1], wh[2]
    local c = weight * 2 ^ ((ts - t0[w]) / h)
    if known then
      local s = G[w][p]
      if s then G[w][p] = s + c else G[w][p] = c end
      dG[w][p] = true
    else
      local s = PD[w][p]
      if s then PD[w][p] = s + c else PD[w][p] = c end
      dP[w][p] = true
    end
    local ev = E[w][etype]
    local s = ev[p]
    if s then ev[p] = s + c else ev[p] = c end
    dE[w][etype] = dE[w][etype] or {}
    dE[w][etype][p] = true
  end
  if known then mirror[p] = true end
  local f = etype .. '\31' .. p
  CNT[f] = (CNT[f] or 0) + count
  dC[f] = true
end

local function engagement(u, seen, ti)
  local kind, p, ts, weight = u[1], u[3], u[4], u[5]
  if kind == 'a' then
    contribute(p, u[2], ts, weight, 1)
  elseif kind == 'o' then
    local km = 'o\31' .. u[9]
    if seen[km] then return false end
    seen[km] = u[10]
    newseen[ti][#newseen[ti] + 1] = u[10]
    newseen[ti][#newseen[ti] + 1] = km
    contribute(p, u[2], ts, weight, 1)
  elseif kind == 'u' then
    local f = p .. '\31' .. u[9]
    if VOT[f] then return false end
    -- the upvote's own ts and weight, so an unvote withdraws exactly this contribution
    VOT[f] = fmt(ts) .. ' ' .. fmt(weight)
    dV[f] = true
    contribute(p, 'upvote', ts, weight, 1)
  elseif kind == 'x' then
    local f = p .. '\31' .. u[9]
    local v = VOT[f]
    if not v then return false end
    VOT[f] = false
    dV[f] = true
    local sp = string.find(v, ' ', 1, true)
    contribute(p, 'upvote', tonumber(string.sub(v, 1, sp - 1)), -tonumber(string.sub(v, sp + 1)), -1)
  elseif kind == 's' then
    local stars = u[9]
    local hw = STR[p]
    if hw and stars <= hw then return false end
    STR[p] = stars
    dS[p] = true
    -- the first snapshot is the baseline: velocity needs a previous one
    if hw then contribute(p, 'star', ts, weight * (stars - hw), stars - hw) end
  end
  return true
end

local function paper(u)
  local p, ts, weight, topics, version = u[3], u[4], u[5], u[9], u[10]
  local joined = table.concat(topics, '\31')
  local pi = info[p]
  if not pi then
    for _, wh in ipairs(W) do
      local w, h = wh[1], wh[2]
      local s0 = 0
      local pend = PD[w][p]
      if pend then
        s0 = pend
        PD[w][p] = false
        dP[w][p] = true
      end
      local c = weight * 2 ^ ((ts - t0[w]) / h)
      G[w][p] = s0 + c
      dG[w][p] = true
      local ev = E[w]['prior']
      local s = ev[p]
      if s then ev[p] = s + c else ev[p] = c end
      dE[w]['prior'] = dE[w]['prior'] or {}
      dE[w]['prior'][p] = true
    end
    local f = 'prior\31' .. p
    CNT[f] = (CNT[f] or 0) + 1
    dC[f] = true
  elseif version >= pi[1] and joined ~= pi[2] then
    if oldtopics[p] == nil then oldtopics[p] = pi[3] end
  else
    if version > pi[1] then
      info[p] = {version, pi[2], pi[3]}
      dInfo[p] = true
    end
    return
  end
  info[p] = {version, joined, topics}
  dInfo[p] = true
  mirror[p] = true
  applied = applied + 1
end

for i = 1, n do
  local u = U[i]
  local ti, off = u[6], u[7]
  local nx = nextoff[ti] or stored[ti]
  if off >= nx then
    nextoff[ti] = off + 1
    if u[1] == 'p' then
      paper(u)
    else
      local ts = u[4]
      local w0 = wm[ti]
      if ts < w0 - horizon then
        late[#late + 1] = i - 1
      else
        if ts > w0 then
          wm[ti] = ts
          wmdirty[ti] = true
        end
        touched[ti] = true
        local seen = SEEN[ti]
        local idm = 'i\31' .. u[8]
        if not seen[idm] then
          seen[idm] = ts
          newseen[ti][#newseen[ti] + 1] = ts
          newseen[ti][#newseen[ti] + 1] = idm
          if engagement(u, seen, ti) then applied = applied + 1 end
        end
      end
    end
  end
end

-- ---- bulk writes ----
local topicadd, topicrem, newtopics = {}, {}, {}
for p in pairs(mirror) do
  local pi = info[p]
  local final = {}
  for _, t in ipairs(pi[3]) do final[t] = true; newtopics[#newtopics + 1] = t end
  for _, wh in ipairs(W) do
    local w = wh[1]
    local s = G[w][p]
    for _, t in ipairs(pi[3]) do
      local k = zt(w, t)
      topicadd[k] = topicadd[k] or {}
      local a = topicadd[k]
      a[#a + 1] = s
      a[#a + 1] = p
    end
    for _, t in ipairs(oldtopics[p] or {}) do
      if not final[t] then
        local k = zt(w, t)
        topicrem[k] = topicrem[k] or {}
        topicrem[k][#topicrem[k] + 1] = p
      end
    end
  end
end
for _, wh in ipairs(W) do
  local w = wh[1]
  local args, rem = {}, {}
  for p in pairs(dG[w]) do args[#args + 1] = G[w][p]; args[#args + 1] = p end
  bulk_write('ZADD', ZG[w], args, 2)
  args = {}
  for p in pairs(dP[w]) do
    local s = PD[w][p]
    if s then args[#args + 1] = s; args[#args + 1] = p else rem[#rem + 1] = p end
  end
  bulk_write('ZADD', ZP[w], args, 2)
  bulk_write('ZREM', ZP[w], rem, 1)
  for e, ps in pairs(dE[w]) do
    args = {}
    for p in pairs(ps) do args[#args + 1] = E[w][e][p]; args[#args + 1] = p end
    bulk_write('ZADD', ze(w, e), args, 2)
  end
end
for k, a in pairs(topicrem) do bulk_write('ZREM', k, a, 1) end
for k, a in pairs(topicadd) do bulk_write('ZADD', k, a, 2) end
local args, rem = {}, {}
for f in pairs(dC) do args[#args + 1] = f; args[#args + 1] = CNT[f] end
bulk_write('HSET', COUNTS, args, 2)
args = {}
for f in pairs(dV) do
  if VOT[f] then args[#args + 1] = f; args[#args + 1] = VOT[f] else rem[#rem + 1] = f end
end
bulk_write('HSET', VOTES, args, 2)
bulk_write('HDEL', VOTES, rem, 1)
args = {}
for p in pairs(dS) do args[#args + 1] = p; args[#args + 1] = STR[p] end
bulk_write('HSET', STARS, args, 2)
args = {}
for p in pairs(dInfo) do
  args[#args + 1] = p
  args[#args + 1] = string.format('%d', info[p][1]) .. '\30' .. info[p][2]
end
bulk_write('HSET', PAPERS, args, 2)
bulk_write('SADD', TOPICS, newtopics, 1)

-- offsets: kept as a maximum of what was stored, what the updates reached and what the caller passed
local final = {}
for ti, o in pairs(nextoff) do final[ti] = o end
for _, to in ipairs(data.o) do
  local ti, o = to[1], to[2]
  if final[ti] == nil or o > final[ti] then final[ti] = o end
end
for ti, o in pairs(final) do
  if o > stored[ti] then redis.call('HSET', OFFS, TP[ti], o) end
end
for ti in pairs(touched) do
  bulk_write('ZADD', SEENK[ti], newseen[ti], 2)
  redis.call('ZREMRANGEBYSCORE', SEENK[ti], '-inf', '(' .. fmt(wm[ti] - horizon))
end
for ti in pairs(wmdirty) do redis.call('HSET', META, 'wm:' .. TP[ti], wm[ti]) end
for w, h in pairs(newt0) do redis.call('HSET', META, 't0:' .. w, t0[w], 'h:' .. w, h) end
return {'ok', applied, late}
