-- One decision of a shared GCRA rate limiter, atomic on the server and on
-- the server's clock (TIME, in microseconds). KEYS[1] holds the limit's
-- theoretical arrival time (TAT: when the bucket would be full again, in
-- microseconds since the epoch), with an expiry a second after that time
-- (a TAT in the past means a full bucket, so the key is only kept for a
-- second more than needed: a key expiring at once, under a high limit,
-- would be deleted and made again at every decision). KEYS[2] is the set of replicas seen (member: the
-- replica's id, score: when it was last seen).
--
-- ARGV: the emission interval (microseconds per token), the tolerance
-- (interval times burst), the most the caller will wait for its slot
-- (microseconds; 0: not at all), the calling replica's id ("": do not
-- count it this time), and how long a replica counts after it was last
-- seen (microseconds).
--
-- Reply: {admitted (1 or 0), wait (admitted: microseconds until its slot,
-- which it has taken; refused: until a slot would be free), replicas seen
-- (-1 when the replica's id was "")}.
--
-- Numbers go to redis.call as Lua numbers: Redis 7 writes them with every
-- digit a double holds (older servers kept 14, too few for microseconds
-- since the epoch), and formatting them here would double the script's
-- cost.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local most = tonumber(ARGV[3])

local replicas = -1
if ARGV[4] ~= '' then
  local window = tonumber(ARGV[5])
  redis.call('ZADD', KEYS[2], now, ARGV[4])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
  redis.call('PEXPIRE', KEYS[2], math.ceil(window / 1000))
  replicas = redis.call('ZCARD', KEYS[2])
end

local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
if tat < now then tat = now end
local new = tat + interval
local wait = new - tolerance - now
if wait > most then
  return {0, math.ceil(wait), replicas}
end
redis.call('SET', KEYS[1], new, 'PX', math.ceil((new - now) / 1000) + 1000)
if wait < 0 then wait = 0 end
return {1, math.ceil(wait), replicas}
