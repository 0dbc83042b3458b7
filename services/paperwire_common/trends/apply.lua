-- TrendStore.apply as one atomic Redis script. walk.py (Apply, the embedded store's walk) states the same
-- semantics per event; this script does the same float operations in the same order, on values it bulk-reads
-- first, keeps in Lua tables
-- while it walks the batch and bulk-writes at the end: a few dozen commands per batch, not a dozen per event.
-- Keep the two in step.
--
-- Per paper, everything but the rankings lives in one binary record (P:rec, struct-packed little-endian doubles,
-- exact and free of the %.17g formatting every zset score costs): for each window w (in "w" order) the paper's S
-- (ranked, or pending until the paper is announced) then S of each event type (in "e" order); then the count of
-- each event type; then the highest star snapshot (-1: none). NaN marks "no contribution yet".
--
-- ARGV[1] key prefix (holds the {hash tag}), ARGV[2] consumer, ARGV[3] max exponent, ARGV[4] dedupe horizon (s),
-- ARGV[5] JSON {"w": [[window, half_life]...], "e": [etype...], "tp": ["topic:partition"...],
--   "o": [[tp index, next offset]...], "u": [[kind, etype, paper, ts, weight, tp index, offset, event id, ...]]},
--   the tail by kind: "o": key, until | "u", "x": actor | "s": stars | "p", "t": [topics], version | "a": nothing
-- KEYS: every key the call may touch: the fixed keys, seen:<tp> of each engagement partition in the call and the
-- topic sorted sets of every topic of every paper in the call (Redis Cluster: all share one hash slot).
-- ARGV[6..9] the store's bounds (port.py): max event time, max |weight|, max star count, max paper version.
-- Returns {"ok", applied, {late index...}} | {"rebase", window} | {"retry", {missing key...}}; the last two write
-- nothing (the client rebases the window, or re-reads the papers' topics, and calls again).
-- All or nothing: every read, check and computation happens before the first write, so an error reply (an
-- update outside the bounds: "BOUNDS", a non-finite result: "NONFINITE", or any Lua error) writes nothing —
-- no event id, watermark, star mark or offset. (Redis does not roll back a script's writes made before an error.)

local P, consumer = ARGV[1], ARGV[2]
local maxexp, horizon = tonumber(ARGV[3]), tonumber(ARGV[4])
local MAXTS, MAXW, MAXSTARS, MAXVER = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local data = cjson.decode(ARGV[5])
local W, ENAMES, TP, U = data.w, data.e, data.tp, data.u
local n, NW, NE = #U, #data.w, #data.e
local CHUNK = 1000 -- members per bulk command (Lua's unpack has a stack limit)

local META, PAPERS, VOTES, REC, TOPICS = P .. ':meta', P .. ':papers', P .. ':votes', P .. ':rec', P .. ':topics'
local ASSIGNED = P .. ':assigned'
local OFFS = P .. ':offsets:' .. consumer
local LAYOUT = ''
for _, wh in ipairs(W) do LAYOUT = LAYOUT .. wh[1] .. ',' end
LAYOUT = LAYOUT .. '|' .. table.concat(ENAMES, ',')

-- record layout (1-based)
local R = NW * (1 + NE) + NE + 1
local RFMT = '<' .. string.rep('d', R)
local STAR = R
local EI = {}
for i, e in ipairs(ENAMES) do EI[e] = i end
local function cix(ei) return NW * (1 + NE) + ei end
local NAN = 0 / 0

local ZG, ZT = {}, {}
for _, wh in ipairs(W) do ZG[wh[1]], ZT[wh[1]] = P .. ':z:' .. wh[1], {} end
local function zt(w, t)
  local k = ZT[w][t]
  if not k then k = P .. ':z:' .. w .. ':t:' .. t; ZT[w][t] = k end
  return k
end
local SEENK = {}
for i, tp in ipairs(TP) do SEENK[i] = P .. ':seen:' .. tp end
local ENGTP = {} -- tp indexes with engagement: their seen key must be declared
local function fmt(x) return string.format('%.17g', x) end

-- bulk helpers: read -> {member = value | false}; write -> one command per CHUNK members
local function bulk_read(cmd, key, members)
  local out = {}
  for i = 1, #members, CHUNK do
    local j = math.min(i + CHUNK - 1, #members)
    local vals = redis.call(cmd, key, unpack(members, i, j))
    for k = i, j do out[members[k]] = vals[k - i + 1] end
  end
  return out
end
local function bulk_write(cmd, key, args, width)
  local step = CHUNK * width
  for i = 1, #args, step do redis.call(cmd, key, unpack(args, i, math.min(i + step - 1, #args))) end
end
local function newset() return {list = {}, has = {}} end
local function add(s, m) if not s.has[m] then s.has[m] = true; s.list[#s.list + 1] = m end end

-- ---- pre-pass: every check and every read happens before the first write ----
local declared, missing = {}, {}
for _, k in ipairs(KEYS) do declared[k] = true end
local function need(k) if not declared[k] then missing[#missing + 1] = k end end
for _, k in ipairs({META, PAPERS, VOTES, REC, TOPICS, ASSIGNED, OFFS}) do need(k) end
for _, wh in ipairs(W) do need(ZG[wh[1]]) end

local layout = redis.call('HGET', META, 'layout')
if layout and layout ~= LAYOUT then
  return redis.error_reply('HALFLIFE windows/event types changed (' .. layout .. ' -> ' .. LAYOUT ..
    '); rebuild the trend store')
end
for _, wh in ipairs(W) do
  local h = redis.call('HGET', META, 'h:' .. wh[1])
  if h and tonumber(h) ~= wh[2] then
    return redis.error_reply('HALFLIFE half-life of window ' .. wh[1] .. ' changed (' .. h .. ' -> ' ..
      fmt(wh[2]) .. '); rebuild the trend store')
  end
end

-- the client screened these (port.screen); a guard, since Redis can't undo a half-written batch
local function within(x, lo, hi) return type(x) == 'number' and x >= lo and x <= hi end -- false for NaN, null
local maxts = -math.huge
for i = 1, n do
  local u = U[i]
  local kind, ts, wt = u[1], u[4], u[5]
  local ok = within(ts, 0, MAXTS) and within(wt, -MAXW, MAXW)
  if kind == 'o' then ok = ok and within(u[10], 0, 2 * MAXTS)
  elseif kind == 's' then ok = ok and within(u[9], 0, MAXSTARS)
  elseif kind == 'p' or kind == 't' then ok = ok and within(u[10], 0, MAXVER) end
  if not ok then return redis.error_reply('BOUNDS update ' .. tostring(u[8]) .. ' outside the store bounds') end
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

-- what the batch will read
local papers, vfields, seenm = newset(), newset(), {}
for i = 1, #TP do seenm[i] = newset() end
for i = 1, n do
  local u = U[i]
  local kind = u[1]
  add(papers, u[3])
  if kind ~= 'p' and kind ~= 't' then
    local ti = u[6]
    add(seenm[ti], 'i\31' .. u[8])
    ENGTP[ti] = true
    if kind == 'o' then add(seenm[ti], 'o\31' .. u[9])
    elseif kind == 'u' or kind == 'x' then add(vfields, u[3] .. '\31' .. u[9]) end
  else
    for _, t in ipairs(u[9]) do for _, wh in ipairs(W) do need(zt(wh[1], t)) end end
  end
end

for ti in pairs(ENGTP) do need(SEENK[ti]) end

-- paper -> {version, joined topics, {topics}} or false (not announced yet)
local info = {}
for p, raw in pairs(bulk_read('HMGET', PAPERS, papers.list)) do
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
-- paper -> its latest topic assignment {version, joined topics, {topics}} or false
local asg = {}
for p, raw in pairs(bulk_read('HMGET', ASSIGNED, papers.list)) do
  if raw then
    local sep = string.find(raw, '\30', 1, true)
    local joined, topics = string.sub(raw, sep + 1), {}
    for t in string.gmatch(joined, '[^\31]+') do topics[#topics + 1] = t end
    asg[p] = {tonumber(string.sub(raw, 1, sep - 1)), joined, topics}
    for _, t in ipairs(topics) do for _, wh in ipairs(W) do need(zt(wh[1], t)) end end
  else
    asg[p] = false
  end
end
if #missing > 0 then return {'retry', missing} end

local recs = {}
for p, raw in pairs(bulk_read('HMGET', REC, papers.list)) do
  local r
  if raw then
    r = {struct.unpack(RFMT, raw)}
    r[R + 1] = nil -- struct.unpack also returns the next position
  else
    r = {}
    for i = 1, R do r[i] = NAN end
    for ei = 1, NE do r[cix(ei)] = 0 end
    r[STAR] = -1
  end
  recs[p] = r
end
local VOT = bulk_read('HMGET', VOTES, vfields.list)
local SEEN = {}
for i = 1, #TP do SEEN[i] = bulk_read('ZMSCORE', SEENK[i], seenm[i].list) end
local stored, wm = {}, {}
for i, tp in ipairs(TP) do
  stored[i] = tonumber(redis.call('HGET', OFFS, tp)) or 0
  local v = redis.call('HGET', META, 'wm:' .. tp)
  if v then wm[i] = tonumber(v) else wm[i] = -math.huge end
end

-- ---- walk the batch on the tables (same operations, same order as embedded.py) ----
local applied, late = 0, {}
local nextoff, touched, wmdirty = {}, {}, {}
local drec, mirror, oldtopics, dV, dInfo, newtopics, dAsg = {}, {}, {}, {}, {}, {}, {}
local newseen = {}
for i = 1, #TP do newseen[i] = {} end
-- Retention scores of seen entries: whole seconds (formatting a double costs more than the ZADD), an event id
-- kept until the call's newest event time (never before its own), a view key until its bucket ends.
local IDKEEP = n > 0 and string.format('%d', math.ceil(maxts)) or '0'
local untilfmt = {}
local function keep(ti, member, score)
  local l = newseen[ti]
  l[#l + 1] = score
  l[#l + 1] = member
end

local function contribute(p, etype, ts, weight, count)
  local r, ei = recs[p], EI[etype]
  for wi, wh in ipairs(W) do
    local c = weight * 2 ^ ((ts - t0[wh[1]]) / wh[2])
    local i = (wi - 1) * (1 + NE) + 1
    local s = r[i]
    if s == s then r[i] = s + c else r[i] = c end
    i = i + ei
    s = r[i]
    if s == s then r[i] = s + c else r[i] = c end
  end
  local ci = cix(ei)
  r[ci] = r[ci] + count
  drec[p] = true
  if info[p] then mirror[p] = true end
end

local function engagement(u, seen, ti)
  local kind, p, ts, weight = u[1], u[3], u[4], u[5]
  if kind == 'a' then
    contribute(p, u[2], ts, weight, 1)
  elseif kind == 'o' then
    local km = 'o\31' .. u[9]
    if seen[km] then return false end
    seen[km] = true
    local ks = untilfmt[u[10]]
    if not ks then ks = string.format('%d', math.ceil(u[10])); untilfmt[u[10]] = ks end
    keep(ti, km, ks)
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
    local stars, r = u[9], recs[p]
    local hw = r[STAR]
    if hw >= 0 and stars <= hw then return false end
    r[STAR] = stars
    drec[p] = true
    -- the first snapshot is the baseline: velocity needs a previous one
    if hw >= 0 then contribute(p, 'star', ts, weight * (stars - hw), stars - hw) end
  end
  return true
end

local function paper(u)
  local p, ts, weight, topics, version = u[3], u[4], u[5], u[9], u[10]
  local a = asg[p]
  if a then topics = a[3] end -- the topic job's assignment wins over the announced topics
  local joined = table.concat(topics, '\31')
  local pi = info[p]
  if not pi then
    local r, ei = recs[p], EI['prior']
    for wi, wh in ipairs(W) do
      local i = (wi - 1) * (1 + NE) + 1
      local s0 = 0
      if r[i] == r[i] then s0 = r[i] end -- what it gathered while pending
      local c = weight * 2 ^ ((ts - t0[wh[1]]) / wh[2])
      r[i] = s0 + c
      i = i + ei
      local s = r[i]
      if s == s then r[i] = s + c else r[i] = c end
    end
    r[cix(ei)] = r[cix(ei)] + 1
    drec[p] = true
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
  for _, t in ipairs(topics) do newtopics[#newtopics + 1] = t end
  applied = applied + 1
end

-- a topic assignment: recorded when newer than the paper's last one, its topics the paper's at once if announced
local function assign(u)
  local p, topics, version = u[3], u[9], u[10]
  local a = asg[p]
  if a and a[1] >= version then return end
  local joined = table.concat(topics, '\31')
  asg[p] = {version, joined, topics}
  dAsg[p] = true
  local pi = info[p]
  if pi and joined ~= pi[2] then
    if oldtopics[p] == nil then oldtopics[p] = pi[3] end
    info[p] = {pi[1], joined, topics}
    dInfo[p] = true
    mirror[p] = true
    for _, t in ipairs(topics) do newtopics[#newtopics + 1] = t end
  end
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
    elseif u[1] == 't' then
      assign(u)
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
          seen[idm] = true
          keep(ti, idm, IDKEEP)
          if engagement(u, seen, ti) then applied = applied + 1 end
        end
      end
    end
  end
end

-- ---- last check: nothing infinite reaches Redis (NaN is the record's "no contribution" mark) ----
for p in pairs(drec) do
  local r = recs[p]
  for i = 1, R do
    if r[i] == math.huge or r[i] == -math.huge then
      return redis.error_reply('NONFINITE score of ' .. p .. ': batch refused, nothing written')
    end
  end
end

-- ---- bulk writes ----
local args = {}
for p in pairs(drec) do
  args[#args + 1] = p
  args[#args + 1] = struct.pack(RFMT, unpack(recs[p]))
end
bulk_write('HSET', REC, args, 2)

-- rankings: every announced paper whose S moved, in its window ranking and in each of its topics' rankings
local rank, topicadd, topicrem = {}, {}, {}
for _, wh in ipairs(W) do rank[wh[1]] = {} end
for p in pairs(mirror) do
  local pi, r = info[p], recs[p]
  local final = {}
  for _, t in ipairs(pi[3]) do final[t] = true end
  for wi, wh in ipairs(W) do
    local w = wh[1]
    local s = r[(wi - 1) * (1 + NE) + 1]
    if #pi[3] > 0 then s = fmt(s) end -- formatted once for the ranking and every topic ranking
    local a = rank[w]
    a[#a + 1] = s
    a[#a + 1] = p
    for _, t in ipairs(pi[3]) do
      local k = zt(w, t)
      topicadd[k] = topicadd[k] or {}
      a = topicadd[k]
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
for w, a in pairs(rank) do bulk_write('ZADD', ZG[w], a, 2) end
for k, a in pairs(topicrem) do bulk_write('ZREM', k, a, 1) end
for k, a in pairs(topicadd) do bulk_write('ZADD', k, a, 2) end
bulk_write('SADD', TOPICS, newtopics, 1)

local rem = {}
args = {}
for f in pairs(dV) do
  if VOT[f] then args[#args + 1] = f; args[#args + 1] = VOT[f] else rem[#rem + 1] = f end
end
bulk_write('HSET', VOTES, args, 2)
bulk_write('HDEL', VOTES, rem, 1)
args = {}
for p in pairs(dInfo) do
  args[#args + 1] = p
  args[#args + 1] = string.format('%d', info[p][1]) .. '\30' .. info[p][2]
end
bulk_write('HSET', PAPERS, args, 2)
args = {}
for p in pairs(dAsg) do
  args[#args + 1] = p
  args[#args + 1] = string.format('%d', asg[p][1]) .. '\30' .. asg[p][2]
end
bulk_write('HSET', ASSIGNED, args, 2)

-- offsets: kept as a maximum of what was stored, what the updates reached and what the caller passed
local final = {}
for ti, o in pairs(nextoff) do final[ti] = o end
for _, to in ipairs(data.o) do
  local ti, o = to[1], to[2]
  if final[ti] == nil or o > final[ti] then final[ti] = o end
end
for ti, o in pairs(final) do
  if o > stored[ti] then redis.call('HSET', OFFS, TP[ti], string.format('%d', o)) end
end
for ti in pairs(touched) do
  bulk_write('ZADD', SEENK[ti], newseen[ti], 2)
  redis.call('ZREMRANGEBYSCORE', SEENK[ti], '-inf', '(' .. fmt(wm[ti] - horizon))
end
for ti in pairs(wmdirty) do redis.call('HSET', META, 'wm:' .. TP[ti], fmt(wm[ti])) end
for w, h in pairs(newt0) do redis.call('HSET', META, 't0:' .. w, fmt(t0[w]), 'h:' .. w, fmt(h)) end
if not layout and n > 0 then redis.call('HSET', META, 'layout', LAYOUT) end
return {'ok', applied, late}
