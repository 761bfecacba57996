-- One transition of a shared circuit breaker, atomic on the server, on the
-- server's clock. KEYS[1] is the breaker's hash. ARGV: op ("admit",
-- "record", "load", "force"), consecutive, ratio, min requests, window (us),
-- bucket (us), open timeout (us), half-open probes, pub/sub channel, the
-- id of the calling store (carried by the published changes), then for
-- "record": generation, bucket, outcome ("s", "f", "x"), and for a call
-- the breaker admitted on its own (closed state known): 1 and how long ago
-- it started (us), else 0 and 0; for "force":
-- the target state (0 closed, 2 open).
--
-- Reply: {admitted, bucket, state, generation, time left (us: open for, or
-- when half-open with every permit taken, until the probes' lease ends), requests,
-- successes, failures, exclusions, consecutive successes, consecutive
-- failures, then one (generation, from, to) triple per change made}.
--
-- States: 0 closed, 1 half-open, 2 open (the Go State values).
local key = KEYS[1]
local op = ARGV[1]
local consec = tonumber(ARGV[2])
local ratio = tonumber(ARGV[3])
local minreq = tonumber(ARGV[4])
local window = tonumber(ARGV[5])
local bucket = tonumber(ARGV[6])
local timeout = tonumber(ARGV[7])
local probes = tonumber(ARGV[8])
local channel = ARGV[9]
local origin = ARGV[10]

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local nb = 1
if window > 0 then nb = math.ceil(window / bucket) end

local h = redis.call('HMGET', key, 'st', 'gen', 'start', 'until', 'cs', 'cf', 'lc', 'hs', 'R', 'S', 'F', 'X')
local st, gen, start, untl, cs, cf, lc, hs, R, S, F, X
if not h[2] then
  -- A new breaker (or the server lost it): generations start at the
  -- server's time, so that they still grow if the data was lost.
  st, gen, start, untl, cs, cf, lc, hs, R, S, F, X = 0, now, now, 0, 0, 0, 0, 0, 0, 0, 0, 0
else
  st, gen, start, untl = tonumber(h[1]), tonumber(h[2]), tonumber(h[3]), tonumber(h[4])
  cs, cf, lc, hs = tonumber(h[5]), tonumber(h[6]), tonumber(h[7]), tonumber(h[8])
  R, S, F, X = tonumber(h[9]), tonumber(h[10]), tonumber(h[11]), tonumber(h[12])
end

local changes = {}
local function fmt(n) return string.format('%.0f', n) end

-- newgen moves to state to in a new generation with cleared counts and
-- tells the other replicas.
local function newgen(to)
  local from = st
  gen = gen + 1
  st, start, lc = to, now, 0
  cs, cf, R, S, F, X = 0, 0, 0, 0, 0, 0
  untl, hs = 0, 0
  local left = 0
  if to == 2 then
    untl = now + timeout
    left = timeout
  end
  redis.call('DEL', key)
  changes[#changes + 1] = {gen, from, to}
  redis.call('PUBLISH', channel, fmt(gen) .. ' ' .. from .. ' ' .. to .. ' ' .. fmt(left) .. ' ' .. origin)
end

-- refresh half-opens an open breaker whose period has passed (strictly).
local function refresh()
  if st == 2 and now > untl then newgen(1) end
end

-- current returns the closed breaker's bucket now, forgetting the buckets
-- that left the window.
local function current()
  if st ~= 0 or window <= 0 then return 0 end
  local cur = math.floor((now - start) / bucket)
  if cur > lc then
    local lo = math.max(lc - nb + 1, 0)
    local hi = math.min(lc, cur - nb)
    for id = lo, hi do
      local b = redis.call('HMGET', key, 'r' .. id, 's' .. id, 'f' .. id, 'x' .. id)
      R = R - (tonumber(b[1]) or 0)
      S = S - (tonumber(b[2]) or 0)
      F = F - (tonumber(b[3]) or 0)
      X = X - (tonumber(b[4]) or 0)
      redis.call('HDEL', key, 'r' .. id, 's' .. id, 'f' .. id, 'x' .. id)
    end
    lc = cur
    -- A run of outcomes cannot be longer than what the window holds.
    if cf > F then cf = F end
    if cs > S then cs = S end
  end
  return cur
end

local function bump(field, id)
  redis.call('HINCRBY', key, field .. id, 1)
end

local admitted, mybucket = 0, 0
refresh()
local cur = current()

if op == 'admit' then
  if st == 1 and R - X >= probes and now > hs + timeout then
    -- Probes admitted longer ago than the open timeout never reported
    -- (their replica died, or its store call failed): start over.
    newgen(1)
  end
  if st == 0 or (st == 1 and R - X < probes) then
    admitted, mybucket = 1, cur
    R = R + 1
    if st == 0 and window > 0 then bump('r', cur) end
    if st == 1 then hs = now end
  end
elseif op == 'record' then
  local tgen, tb, outcome = tonumber(ARGV[11]), tonumber(ARGV[12]), ARGV[13]
  local own, ago = ARGV[14] == '1', tonumber(ARGV[15])
  local live = tgen == gen and st ~= 2
  if own then
    -- Admitted without a round trip while closed: count the request now,
    -- in the bucket in which the call started.
    -- (A call that started in a bucket that has left the window is
    -- forgotten whole, as gobreaker forgets the request it counted then.)
    live = live and st == 0
    if live and window > 0 then
      tb = math.max(math.floor((now - ago - start) / bucket), 0)
      if tb > cur or cur - tb >= nb then live = false end
    end
    if live then
      R = R + 1
      if window > 0 then bump('r', tb) end
    end
  end
  if live and st == 0 and window > 0 and (tb > cur or cur - tb >= nb) then live = false end
  if live then
    local win = st == 0 and window > 0
    if outcome == 'x' then
      X = X + 1
      if win then bump('x', tb) end
    elseif outcome == 's' then
      S, cs, cf = S + 1, cs + 1, 0
      if win then bump('s', tb) end
      if st == 1 and cs >= probes then newgen(0) end
    else
      F, cf, cs = F + 1, cf + 1, 0
      if win then bump('f', tb) end
      if st == 1 then
        newgen(2)
      elseif (consec > 0 and cf >= consec) or (ratio > 0 and S + F >= minreq and F / (S + F) >= ratio) then
        newgen(2)
      end
    end
  end
elseif op == 'force' then
  newgen(tonumber(ARGV[11]))
end

redis.call('HSET', key, 'st', st, 'gen', fmt(gen), 'start', fmt(start), 'until', fmt(untl),
  'cs', cs, 'cf', cf, 'lc', lc, 'hs', fmt(hs), 'R', R, 'S', S, 'F', F, 'X', X)

-- Time left: until an open breaker half-opens, or until the lease of the
-- probes of a half-open breaker whose permits are all taken ends.
local left = 0
if st == 2 then
  left = untl - now
elseif st == 1 and R - X >= probes then
  left = math.max(hs + timeout - now, 0)
end
local reply = {admitted, mybucket, st, gen, left, R, S, F, X, cs, cf}
for _, c in ipairs(changes) do
  reply[#reply + 1] = c[1]
  reply[#reply + 1] = c[2]
  reply[#reply + 1] = c[3]
end
return reply
