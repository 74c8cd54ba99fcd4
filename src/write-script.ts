// The one Lua script that writes a batch. A batch is written with a single EVALSHA call, so a
// busy host sends Redis a handful of commands per second, not several per request, and a batch
// is applied atomically: a log is never seen with N+1 entries, and the index never names a user
// whose log was not written.
//
// KEYS: [1] writer marker  [2] users index (zset)   [3] names index (zset)   [4] last-path hash
//       [5 .. 4+U] each user's log   [5+U ..] keys used by the generic ops
// ARGV: [1] maxEntries  [2] ttl seconds  [3] now ms  [4] index cap  [5] U (users)  [6] all-users
//       channel ('' = no all-users publish)  [7] O (ops)  [8] batch sequence number of this writer
//       [9] '1' to prune the users index in this batch (the writer asks at most once a second)
//       then U groups: name, names-member, channel ('' = no publish), last path, n, entry_1 .. entry_n
//       then O groups of 4: op, key index (into KEYS), arg1, arg2
//
// The marker makes a retried batch idempotent: a batch whose reply timed out (a frozen Redis)
// may still run later, and its retry must not log the entries twice. Each writer (one per
// process) numbers its batches and sends them strictly in order, one at a time, retrying a
// failed one before any newer one; so the marker only has to remember the last number applied.
//
// The generic ops are a closed list (HINCRBY, PFADD, EXPIRE, HSET, HSETNX, HMAX, HMIN, HINCRCAP,
// HMAXSUM) used for report counters and sessions. HINCRCAP's arg2 is "n,cap": HINCRBY by n,
// except that a field the hash lacks goes to the field "other" once the hash has `cap` fields
// besides "other". HMAXSUM's arg2 is "v,cap": the field keeps its largest v, "#n" counts distinct
// fields and "#s" sums their maxima; past `cap` remembered fields a new one is counted, not kept.
export const WRITE_SCRIPT = `
local seq = tonumber(ARGV[8])
local done = tonumber(redis.call('GET', KEYS[1]))
if done ~= nil and done >= seq then return 0 end
redis.call('SET', KEYS[1], seq, 'EX', 86400)
local maxEntries = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local indexCap = tonumber(ARGV[4])
local users = tonumber(ARGV[5])
local allChannel = ARGV[6]
local ops = tonumber(ARGV[7])
local prune = ARGV[9] == '1'
local a = 10
local all = {}
for u = 1, users do
  local key = KEYS[4 + u]
  local name, member, channel, lastPath, n = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], tonumber(ARGV[a + 4])
  local first = a + 5
  local last = first + n - 1
  -- Only the newest maxEntries of this batch can survive the trim: push just those.
  local from = math.max(first, last - maxEntries + 1)
  redis.call('LPUSH', key, unpack(ARGV, from, last))
  redis.call('LTRIM', key, 0, maxEntries - 1)
  redis.call('EXPIRE', key, ttl)
  redis.call('ZADD', KEYS[2], now, name)
  redis.call('ZADD', KEYS[3], 0, member)
  if lastPath ~= '' then redis.call('HSET', KEYS[4], name, lastPath) end
  if channel ~= '' then
    redis.call('PUBLISH', channel, '[' .. table.concat(ARGV, ',', first, last) .. ']')
  end
  if allChannel ~= '' then
    for i = first, last do all[#all + 1] = ARGV[i] end
  end
  a = last + 1
end
if users > 0 and prune then
  -- Forget users whose logs have expired, and the oldest beyond the cap. Not needed on every
  -- batch: the index only has to be roughly as fresh as the logs.
  local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now - ttl * 1000), 'LIMIT', 0, 200)
  local over = redis.call('ZCARD', KEYS[2]) - #stale - indexCap
  if over > 0 then
    for _, name in ipairs(redis.call('ZRANGE', KEYS[2], #stale, #stale + over - 1)) do stale[#stale + 1] = name end
  end
  if #stale > 0 then
    local members = {}
    for i, name in ipairs(stale) do members[i] = string.lower(name) .. '\\0' .. name end
    redis.call('ZREM', KEYS[2], unpack(stale))
    redis.call('ZREM', KEYS[3], unpack(members))
    redis.call('HDEL', KEYS[4], unpack(stale))
  end
  redis.call('EXPIRE', KEYS[2], ttl)
  redis.call('EXPIRE', KEYS[3], ttl)
  redis.call('EXPIRE', KEYS[4], ttl)
end
if allChannel ~= '' and #all > 0 then
  redis.call('PUBLISH', allChannel, '[' .. table.concat(all, ',') .. ']')
end
for o = 1, ops do
  local op, key, x, y = ARGV[a], KEYS[tonumber(ARGV[a + 1])], ARGV[a + 2], ARGV[a + 3]
  if op == 'HINCRBY' then redis.call('HINCRBY', key, x, y)
  elseif op == 'PFADD' then redis.call('PFADD', key, x)
  elseif op == 'EXPIRE' then redis.call('EXPIRE', key, x)
  elseif op == 'HSET' then redis.call('HSET', key, x, y)
  elseif op == 'HSETNX' then redis.call('HSETNX', key, x, y)
  elseif op == 'HMAX' then
    local cur = tonumber(redis.call('HGET', key, x))
    if cur == nil or cur < tonumber(y) then redis.call('HSET', key, x, y) end
  elseif op == 'HMIN' then
    local cur = tonumber(redis.call('HGET', key, x))
    if cur == nil or cur > tonumber(y) then redis.call('HSET', key, x, y) end
  elseif op == 'HINCRCAP' then
    local comma = string.find(y, ',', 1, true)
    if redis.call('HEXISTS', key, x) == 0 then
      local len = redis.call('HLEN', key) - redis.call('HEXISTS', key, 'other')
      if len >= tonumber(string.sub(y, comma + 1)) then x = 'other' end
    end
    redis.call('HINCRBY', key, x, string.sub(y, 1, comma - 1))
  elseif op == 'HMAXSUM' then
    local comma = string.find(y, ',', 1, true)
    local v = tonumber(string.sub(y, 1, comma - 1))
    local cur = tonumber(redis.call('HGET', key, x))
    if cur == nil then
      local len = redis.call('HLEN', key) - redis.call('HEXISTS', key, '#n') - redis.call('HEXISTS', key, '#s')
      if len < tonumber(string.sub(y, comma + 1)) then redis.call('HSET', key, x, v) end
      redis.call('HINCRBY', key, '#n', 1)
      redis.call('HINCRBY', key, '#s', v)
    elseif v > cur then
      redis.call('HSET', key, x, v)
      redis.call('HINCRBY', key, '#s', v - cur)
    end
  else return redis.error_reply('unknown op ' .. op) end
  a = a + 4
end
return 1
`

/** ASCII-lower-case name, NUL, name: the member of the names index, searched case-insensitively by prefix. */
export function namesMember (user: string): string {
  return asciiLower(user) + '\0' + user
}

/** Lower-cases A-Z only, exactly like Lua's string.lower in Redis, so JS and Lua agree on members. */
export function asciiLower (s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase())
}
