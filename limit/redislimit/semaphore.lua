-- One operation of a shared leased semaphore, atomic on the server and on
-- the server's clock (TIME, in microseconds). KEYS[1] is the sorted set of
-- the permits held (member: the permit's id, score: when its lease ends);
-- it expires a second after the last lease in it. KEYS[2] is the set of
-- replicas seen (member: the replica's id, score: when last seen).
--
-- ARGV[1] is the operation:
--   "acquire", n, lease (us), permit id, replica id ("": do not count it
--     this time), replica window (us). Leases that have ended are removed
--     first (a crashed holder's permit comes back here). Reply: {acquired
--     (1 or 0), refused: us until the earliest lease ends, else 0, replicas
--     seen (-1 when the replica id was "")}.
--   "release", permit id. Reply: {1 if the permit was held, 0 if its lease
--     had ended or it was never granted}.
--   "extend", lease (us), permit id: the lease ends that long from now.
--     Reply: {1, or 0 if its lease had ended (the permit is lost)}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local key = KEYS[1]
local op = ARGV[1]

-- expire keeps the set for a second after its last lease ends.
local function expire()
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] then
    redis.call('PEXPIREAT', key, math.ceil(tonumber(last[2]) / 1000) + 1000)
  end
end

if op == 'acquire' then
  local n, lease, id = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
  local replicas = -1
  if ARGV[5] ~= '' then
    local window = tonumber(ARGV[6])
    redis.call('ZADD', KEYS[2], now, ARGV[5])
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
    redis.call('PEXPIRE', KEYS[2], math.ceil(window / 1000))
    replicas = redis.call('ZCARD', KEYS[2])
  end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= n then
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local left = 0
    if first[2] then left = math.ceil(tonumber(first[2]) - now) end
    return {0, left, replicas}
  end
  redis.call('ZADD', key, now + lease, id)
  expire()
  return {1, 0, replicas}
end

if op == 'release' then
  local s = redis.call('ZSCORE', key, ARGV[2])
  redis.call('ZREM', key, ARGV[2])
  if s and tonumber(s) > now then return {1} end
  return {0}
end

if op == 'extend' then
  local lease, id = tonumber(ARGV[2]), ARGV[3]
  local s = redis.call('ZSCORE', key, id)
  if not s or tonumber(s) <= now then
    redis.call('ZREM', key, id)
    return {0}
  end
  redis.call('ZADD', key, 'XX', now + lease, id)
  expire()
  return {1}
end

return redis.error_reply('redislimit: unknown operation ' .. tostring(op))
