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
//
// On a Redis Cluster a script may only touch keys of one hash slot, so a batch is written with
// SLOT_WRITE_SCRIPT instead, once per slot it touches (below).

// Shared by both scripts. Expects KEYS[2..4] = users index, names index, last-path hash, and the
// locals now, ttl, indexCap.
const PRUNE_LUA = `  -- Forget users whose logs have expired, and the oldest beyond the cap. Not needed on every
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
`

// Shared by both scripts: the O generic ops, read from ARGV[a ..] (the local `a`), `ops` of them.
const OPS_LUA = `for o = 1, ops do
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
`

// Shared by both scripts: skip a batch this writer already applied (the sequence number is in
// ARGV[seqArg]), else remember it as the last one applied.
function markerLua (seqArg: number): string {
  return `local seq = tonumber(ARGV[${seqArg}])
local done = tonumber(redis.call('GET', KEYS[1]))
if done ~= nil and done >= seq then return 0 end
redis.call('SET', KEYS[1], seq, 'EX', 86400)
`
}

// Shared by both scripts: one user's entries ARGV[first .. last] onto the log `key`, trimmed and
// expiring, then published on `channel` unless it is '' (PUBLISH, or SPUBLISH on a cluster).
function pushLua (publish: 'PUBLISH' | 'SPUBLISH'): string {
  return `  -- Only the newest maxEntries of this batch can survive the trim: push just those.
  local from = math.max(first, last - maxEntries + 1)
  redis.call('LPUSH', key, unpack(ARGV, from, last))
  redis.call('LTRIM', key, 0, maxEntries - 1)
  redis.call('EXPIRE', key, ttl)
  if channel ~= '' then
    redis.call('${publish}', channel, '[' .. table.concat(ARGV, ',', first, last) .. ']')
  end
`
}

export const WRITE_SCRIPT = `
${markerLua(8)}local maxEntries = tonumber(ARGV[1])
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
${pushLua('PUBLISH')}  redis.call('ZADD', KEYS[2], now, name)
  redis.call('ZADD', KEYS[3], 0, member)
  if lastPath ~= '' then redis.call('HSET', KEYS[4], name, lastPath) end
  if allChannel ~= '' then
    for i = first, last do all[#all + 1] = ARGV[i] end
  end
  a = last + 1
end
if users > 0 and prune then
${PRUNE_LUA}end
if allChannel ~= '' and #all > 0 then
  redis.call('PUBLISH', allChannel, '[' .. table.concat(all, ',') .. ']')
end
${OPS_LUA}return 1
`

/**
 * One hash slot's share of a batch on a Redis Cluster (batch.ts `buildSlotCalls`). Every key is in
 * the slot, including the marker, so each slot keeps its own "last batch applied" per writer and a
 * retry re-runs only the slots that failed. Per-user channels carry the user's hash tag, so the
 * user's SPUBLISH runs here, in the same slot.
 *
 * KEYS: [1] this slot's writer marker, then (when I > 0) [2] users index [3] names index
 *       [4] last-path hash, then the logs and op keys, referenced by index
 * ARGV: [1] batch sequence number  [2] maxEntries  [3] ttl seconds  [4] now ms  [5] index cap
 *       [6] '1' to prune the users index  [7] U (logs)  [8] I (index records)  [9] O (ops)
 *       then U groups: key index, channel ('' = no publish), n, entry_1 .. entry_n
 *       then I groups of 3: name, names-member, last path ('' = unchanged)
 *       then O groups of 4: op, key index, arg1, arg2 (as in WRITE_SCRIPT)
 */
export const SLOT_WRITE_SCRIPT = `
${markerLua(1)}local maxEntries = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local indexCap = tonumber(ARGV[5])
local prune = ARGV[6] == '1'
local users = tonumber(ARGV[7])
local indexed = tonumber(ARGV[8])
local ops = tonumber(ARGV[9])
local a = 10
for u = 1, users do
  local key, channel, n = KEYS[tonumber(ARGV[a])], ARGV[a + 1], tonumber(ARGV[a + 2])
  local first = a + 3
  local last = first + n - 1
${pushLua('SPUBLISH')}  a = last + 1
end
for i = 1, indexed do
  local name, member, lastPath = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  redis.call('ZADD', KEYS[2], now, name)
  redis.call('ZADD', KEYS[3], 0, member)
  if lastPath ~= '' then redis.call('HSET', KEYS[4], name, lastPath) end
  a = a + 3
end
if indexed > 0 and prune then
${PRUNE_LUA}end
${OPS_LUA}return 1
`
