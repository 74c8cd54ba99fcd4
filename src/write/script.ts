// The Lua scripts that write a batch, the last step of the write path. A batch is written with a
// single EVALSHA call, so a busy host sends Redis a handful of commands per second, not several
// per request, and a batch is applied atomically: a log is never seen with N+1 entries, and the
// index never names a user whose log was not written.
//
// What a batch costs Redis is mostly the number of redis.call()s, not the data, so per user the
// script makes one call (LPUSH) and everything else is shared or skipped:
//   - LTRIM only when the list grew past maxEntries (LPUSH returns the length);
//   - EXPIRE, the users index (last seen) and the names index only when the writer says they are
//     due (it remembers what it wrote recently, batch.ts), or when the log did not exist before
//     this push (new, expired or erased: LPUSH returned just what was pushed). So a writer that
//     forgot everything (a restart, another process) only writes them more often, never less;
//   - the index updates of all users go out as one variadic ZADD each, the last paths as one HSET;
//   - a user's entries are published only while a realtime server holds a lease on that user's
//     channel (one MGET of every lease of the batch), the all-users stream only while one holds
//     the all-users lease.
//
// KEYS: [1] writer marker  [2] users index (zset)  [3] names index (zset)  [4] last-path hash
//       [5] all-users lease  [6 ..] keys used by the ops
// ARGV: [1] key prefix P  [2] lease prefix ('' never to publish, nor to read a lease)
//       [3] maxEntries  [4] EXPIRE seconds  [5] now ms  [6] index cap  [7] U (users)
//       [8] all-users channel  [9] O (ops)  [10] batch sequence number of this writer
//       [11] '1' to prune the users index in this batch (the writer asks at most once a second)
//       then U users: head, tag, [last path], entry_1 .. entry_n
//         head = n × 16 + due, where due's bits are 1 EXPIRE, 2 users index, 4 names index,
//         8 a last path follows the tag; tag = the user's name as encoded in their keys
//         (`P:{<tag>}:log`, keys.ts), from which the script builds the user's key names
//       then O ops: op, key index (into KEYS), its arguments (PFADD: count, elements; others: 2)
// A user costs the call two arguments besides the entries: the script builds the user's log,
// sessions, lease and channel names from the tag, and decodes the tag back into the name only
// when an index is due.
//
// The reply: 0 for a batch already applied (below), else the all-users stream's state (1 while it
// is watched) followed by the tags of the batch's watched users; the writer starts batches sooner
// while they hold entries someone is watching (writer.ts).
//
// The marker makes a retried batch idempotent: a batch whose reply timed out (a frozen Redis)
// may still run later, and its retry must not log the entries twice. Each writer (one per
// process) numbers its batches and sends them strictly in order, one at a time, retrying a
// failed one before any newer one; so the marker only has to remember the last number applied.
//
// The ops are a closed list (HINCRBY, PFADD, EXPIRE, HSET, HSETNX, HMAX, HMIN, HINCRCAP, HMAXSUM)
// used for report counters and sessions. HINCRCAP's arg2 is "n,cap": HINCRBY by n, except that a
// field the hash lacks goes to the field "other" once the hash has `cap` fields besides "other".
// HMAXSUM's arg2 is "v,cap": the field keeps its largest v, "#n" counts distinct fields and "#s"
// sums their maxima; past `cap` remembered fields a new one is counted, not kept.
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

// Shared by both scripts: the ops, read from ARGV[a ..] (the local `a`), `ops` of them.
const OPS_LUA = `for o = 1, ops do
  local op, key = ARGV[a], KEYS[tonumber(ARGV[a + 1])]
  if op == 'PFADD' then
    local n = tonumber(ARGV[a + 2])
    redis.call('PFADD', key, unpack(ARGV, a + 3, a + 2 + n))
    a = a + 3 + n
  else
    local x, y = ARGV[a + 2], ARGV[a + 3]
    if op == 'HINCRBY' then redis.call('HINCRBY', key, x, y)
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

// Shared by both scripts: one user's entries ARGV[first .. last] onto the log built from `tag`,
// trimmed, expiring (with the user's sessions hash) as `due` says (or because the log is new),
// then published on the user's channel when `watched`. With `recordHere`, the user's index
// updates are gathered too (a cluster's call gathers them where the indexes are).
function pushLua (publish: 'PUBLISH' | 'SPUBLISH', recordHere: boolean): string {
  return `  local key = p .. ':{' .. tag .. '}:log'
  -- Only the newest maxEntries of this batch can survive the trim: push just those.
  local from = math.max(first, last - maxEntries + 1)
  local len = redis.call('LPUSH', key, unpack(ARGV, from, last))
  if len > maxEntries then redis.call('LTRIM', key, 0, maxEntries - 1) end
  -- A log that did not exist before this push: everything is due, whatever the writer thought.
  if len == last - from + 1 then due = bit.bor(due, 7) end
  if bit.band(due, 1) ~= 0 then
    redis.call('EXPIRE', key, ttl)
    -- The user's sessions hash (same slot) lives as long as the log: its client entries join
    -- their User-Agent back from it. No-op for a user without browser sessions.
    redis.call('EXPIRE', p .. ':{' .. tag .. '}:sessions', ttl)
  end
${recordHere ? '  record(tag, due, path)\n' : ''}  if watched then
    redis.call('${publish}', p .. ':live:{' .. tag .. '}', '[' .. table.concat(ARGV, ',', first, last) .. ']')
  end
`
}

// Shared by both scripts: a user's index updates that are due (bits 2 and 4 of `due`) and their
// last path, gathered by record(); INDEX_LUA writes them with one call each. The name is the tag
// decoded (percent-encoding, keys.ts), only when something needs it. Expects the local `now`.
const RECORD_LUA = `local seen, named, paths = {}, {}, {}
local function record (tag, due, path)
  if bit.band(due, 6) == 0 and path == nil then return end
  local name = tag
  if string.find(tag, '%', 1, true) then
    name = string.gsub(tag, '%%(%x%x)', function (h) return string.char(tonumber(h, 16)) end)
  end
  if bit.band(due, 2) ~= 0 then seen[#seen + 1] = now; seen[#seen + 1] = name end
  if bit.band(due, 4) ~= 0 then
    named[#named + 1] = 0
    named[#named + 1] = string.lower(name) .. '\\0' .. name
  end
  if path ~= nil then paths[#paths + 1] = name; paths[#paths + 1] = path end
end
`

// Shared by both scripts: what record() gathered, in one call each.
const INDEX_LUA = `if #seen > 0 then redis.call('ZADD', KEYS[2], unpack(seen)) end
if #named > 0 then redis.call('ZADD', KEYS[3], unpack(named)) end
if #paths > 0 then redis.call('HSET', KEYS[4], unpack(paths)) end
`

// Shared by both scripts: reads a user's head and tag at ARGV[a] (and the last path, when one
// follows), leaving `a` at their first entry.
const USER_LUA = `  local head, tag = tonumber(ARGV[a]), ARGV[a + 1]
  local due, n = head % 16, math.floor(head / 16)
  local path = nil
  a = a + 2
  if due >= 8 then
    path = ARGV[a]
    a = a + 1
  end
  local first, last = a, a + n - 1
`

export const WRITE_SCRIPT = `
${markerLua(10)}local p, lp = ARGV[1], ARGV[2]
local maxEntries = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local now = tonumber(ARGV[5])
local indexCap = tonumber(ARGV[6])
local users = tonumber(ARGV[7])
local allChannel = ARGV[8]
local ops = tonumber(ARGV[9])
local prune = ARGV[11] == '1'
${RECORD_LUA}-- Who is watched: one MGET of the batch's leases (a first walk over the users builds their names).
local leases, publishAll = {}, false
if lp ~= '' then
  local names, a = {}, 12
  for u = 1, users do
    local head = tonumber(ARGV[a])
    names[u] = lp .. ':watch:{' .. ARGV[a + 1] .. '}'
    a = a + 2 + math.floor(head / 16) + (head % 16 >= 8 and 1 or 0)
  end
  names[users + 1] = KEYS[5]
  leases = redis.call('MGET', unpack(names))
  publishAll = leases[users + 1] ~= false
end
local all, watchedTags = {}, {}
local a = 12
for u = 1, users do
${USER_LUA}  local watched = lp ~= '' and leases[u] ~= false
${pushLua('PUBLISH', true)}  if watched then watchedTags[#watchedTags + 1] = tag end
  if publishAll then
    for i = first, last do all[#all + 1] = ARGV[i] end
  end
  a = last + 1
end
${INDEX_LUA}if users > 0 and prune then
${PRUNE_LUA}end
if publishAll and #all > 0 then
  redis.call('PUBLISH', allChannel, '[' .. table.concat(all, ',') .. ']')
end
${OPS_LUA}return { publishAll and 1 or 0, unpack(watchedTags) }
`

/**
 * SLOT_WRITE_SCRIPT's body (NODE_WRITE_SCRIPT runs it once per slot): one hash slot's share of a
 * batch on a Redis Cluster (batch.ts `buildSlotCalls`). Every key is in the slot, including the
 * marker, so each slot keeps its own "last batch applied" per writer and a retry re-runs only the
 * slots that failed. A user's keys, lease and channel carry the user's hash tag, so the user's
 * SPUBLISH runs here, in the same slot.
 *
 * KEYS: [1] this slot's writer marker, then (in the call that holds them) [2] users index
 *       [3] names index [4] last-path hash, then the op keys, referenced by index
 * ARGV: [1] batch sequence number  [2] key prefix P  [3] lease prefix  [4] maxEntries
 *       [5] EXPIRE seconds  [6] now ms  [7] index cap  [8] '1' to prune the users index
 *       [9] U (users whose log is in this slot)  [10] R (index records: every user of the batch
 *       in the call that holds the indexes, else 0)  [11] O (ops)
 *       then U users as in WRITE_SCRIPT (never with a last path), then R records: due (8: a last
 *       path follows), tag, [last path]; then O ops (as in WRITE_SCRIPT)
 * A record's index updates are due by the writer's say only (this call cannot see whether the
 * user's log, in another slot, is new). The reply: 0 for a section already applied, else the tags
 * of its watched users.
 */
const SLOT_BODY = `${markerLua(1)}local p, lp = ARGV[2], ARGV[3]
local maxEntries = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local now = tonumber(ARGV[6])
local indexCap = tonumber(ARGV[7])
local prune = ARGV[8] == '1'
local users = tonumber(ARGV[9])
local records = tonumber(ARGV[10])
local ops = tonumber(ARGV[11])
${RECORD_LUA}local watchedTags = {}
local a = 12
for u = 1, users do
${USER_LUA}  local watched = lp ~= '' and redis.call('EXISTS', lp .. ':watch:{' .. tag .. '}') == 1
${pushLua('SPUBLISH', false)}  if watched then watchedTags[#watchedTags + 1] = tag end
  a = last + 1
end
-- A record is read as a user with no entries: its head is just what is due.
for r = 1, records do
${USER_LUA}  record(tag, due, path)
end
if records > 0 then
${INDEX_LUA.replace(/^/gm, '  ')}  if prune then
${PRUNE_LUA}  end
end
${OPS_LUA}return watchedTags
`

export const SLOT_WRITE_SCRIPT = '\n' + SLOT_BODY

/**
 * A batch's share for one master of a Redis Cluster: the SLOT_WRITE_SCRIPT sections of every slot
 * that master owns, in one call. A cluster refuses a command whose declared keys span slots
 * (CROSSSLOT), but lets a script flagged allow-cross-slot-keys (Redis ≥ 7) touch keys of several
 * slots as long as its node owns them: so only the first section's marker is declared (it routes
 * the call) and every section's keys travel in ARGV. A key this node does not own (the slot map
 * moved) fails the script where it is touched; the sections before it are applied with their
 * markers set, and the writer resends them all as SLOT_WRITE_SCRIPT calls, whose markers skip
 * what was applied. Each section keeps its own slot's marker, so a late first attempt and its
 * retry count once either way.
 *
 * KEYS: [1] the first section's marker
 * ARGV: [1] S (sections), then S pairs: number of keys, number of args of the section, then each
 *       section's keys followed by its args
 * The reply: the tags of the watched users of every section.
 */
export const NODE_WRITE_SCRIPT = `#!lua flags=allow-cross-slot-keys
local function section (KEYS, ARGV)
${SLOT_BODY.replace(/^(?=.)/gm, '  ')}end
local sections = tonumber(ARGV[1])
local a = 2 + 2 * sections
local watchedTags = {}
for i = 1, sections do
  local nk, na = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local res = section({ unpack(ARGV, a, a + nk - 1) }, { unpack(ARGV, a + nk, a + nk + na - 1) })
  if type(res) == 'table' and res.err then return res end
  if type(res) == 'table' then
    for _, tag in ipairs(res) do watchedTags[#watchedTags + 1] = tag end
  end
  a = a + nk + na
end
return watchedTags
`
