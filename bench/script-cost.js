#!/usr/bin/env node
// Where Redis's time goes inside the write script, per entry, from Redis's own timing of the script
// calls (INFO commandstats: usec ÷ calls of EVALSHA ÷ entries per call). Two parts:
//
//   mechanisms  small scripts over a batch of 100 entries of 100 B or 1,000 B each:
//               arguments   `return 1`: what Redis spends turning each argument into a Lua string
//               push        LPUSH + LTRIM of the entries into a capped list (head of the list)
//               rpush       RPUSH + LTRIM of the same (tail of the list), for comparison
//               concat      table.concat of the entries into one message, then PUBLISH (no subscriber)
//               publish     PUBLISH of the same message made by the client (one argument)
//               per user    one LPUSH per entry, each into its own list (100 users of one entry
//                           each): the floor of a batch whose entries are all of different users
//   write script  the real script (src/write/script.ts) on 100-entry batches of request entries
//               from 1 user or from 50 users, with and without a realtime server's lease on the
//               all-users stream (with it, the script builds and publishes the whole batch)
//
// Each figure is min / median / max over repetitions of 200 calls.
//
//   node bench/script-cost.js [--quick] [--json]        (uses dist/: `npm run build` first)
import { parseArgs } from 'node:util'
import { buildScriptCall, freshMemory } from '../dist/write/batch.js'
import { Keys } from '../dist/shared/keys.js'
import { WRITE_SCRIPT } from '../dist/write/script.js'
import { printResults } from './lib/machine.js'
import { startRedis, parseInfo } from './lib/redis.js'
import { summary, round } from './lib/stats.js'

const { values: opt } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } }
})
const CALLS = opt.quick ? 50 : 200
const REPEATS = opt.quick ? 3 : 7
const BATCH = 100
const log = (...a) => console.error(...a)

const MECHANISMS = {
  arguments: 'return 1',
  push: "local n = redis.call('LPUSH', KEYS[1], unpack(ARGV)) " +
    "if n > 1000 then redis.call('LTRIM', KEYS[1], 0, 999) end return n",
  rpush: "local n = redis.call('RPUSH', KEYS[1], unpack(ARGV)) " +
    "if n > 1000 then redis.call('LTRIM', KEYS[1], -1000, -1) end return n",
  concat: "redis.call('PUBLISH', KEYS[1], '[' .. table.concat(ARGV, ',') .. ']') return 1",
  publish: "redis.call('PUBLISH', KEYS[1], ARGV[1]) return 1",
  perUser: "for i = 1, #ARGV do redis.call('LPUSH', KEYS[i], ARGV[i]) end return 1"
}

/** Redis's own time per script call, in µs, over `CALLS` calls made by `call`. */
async function scriptUsec (client, call) {
  await client.config('RESETSTAT')
  for (let i = 0; i < CALLS; i++) await call(i)
  const stat = parseInfo(await client.info('commandstats')).cmdstat_evalsha ?? ''
  const calls = Number(/calls=(\d+)/.exec(stat)?.[1])
  const usec = Number(/usec=(\d+)/.exec(stat)?.[1])
  return usec / calls
}

/** min / median / max over REPEATS of `usecPerCall ÷ perCall`, after one warm-up. */
async function perEntry (client, call, perCall = BATCH) {
  await scriptUsec(client, call)
  const xs = []
  for (let r = 0; r < REPEATS; r++) xs.push(await scriptUsec(client, call) / perCall)
  return summary(xs)
}

const entryOf = (bytes, i) => {
  const head = JSON.stringify({ id: `e${i}`, t: 1_767_000_000_000 + i, pad: '' })
  return head.slice(0, -2) + 'x'.repeat(Math.max(0, bytes - head.length)) + '"}'
}

async function mechanisms (client) {
  const shas = {}
  for (const [name, lua] of Object.entries(MECHANISMS)) shas[name] = await client.script('LOAD', lua)
  const out = {}
  for (const bytes of [100, 1000]) {
    const entries = Array.from({ length: BATCH }, (_, i) => entryOf(bytes, i))
    const message = '[' + entries.join(',') + ']'
    for (const name of Object.keys(MECHANISMS)) {
      const args = name === 'publish' ? [message] : entries
      const keys = name === 'perUser'
        ? entries.map((_, i) => `bench:user${i}`)
        : [name.endsWith('push') ? `bench:${name}` : 'bench:nobody']
      await client.del(...keys)
      out[`${name} ${bytes}`] = await perEntry(client, () => client.evalsha(shas[name], keys.length, ...keys, ...args))
    }
  }
  return out
}

function requestBatch (users, start) {
  return Array.from({ length: BATCH }, (_, i) => ({
    id: `r${start}-${i}`, t: start + i, user: `user${i % users}`, kind: 'request', method: 'GET',
    path: `/api/items/${i % 37}?page=${i % 5}`, route: '/api/items/:id', status: 200, ms: 1.2,
    ip: '127.0.0.1',
    ua: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
    reqId: `req-${i}`
  }))
}

async function writeScript (client, keys) {
  const settings = { keys, maxEntries: 1000, ttl: 86_400, indexCap: 100_000, publish: true }
  const sha = await client.script('LOAD', WRITE_SCRIPT)
  let seq = 0
  const out = {}
  for (const users of [1, 50]) {
    for (const watched of [false, true]) {
      if (watched) await client.set(keys.allWatchLease, '1')
      else await client.del(keys.allWatchLease)
      // One memory across the calls, and the users index pruned at most once a second, as a writer does.
      const memory = freshMemory(settings)
      let pruned = 0
      const call = () => {
        const now = Date.now()
        const prune = now - pruned >= 1000
        if (prune) pruned = now
        const c = buildScriptCall('bench', ++seq, requestBatch(users, seq * BATCH), settings, [], now, prune, memory)
        return client.evalsha(sha, c.keys.length, ...c.keys.values, ...c.argv.values)
          .then(() => { memory.written(c.users, now); c.ops.written() })
      }
      out[`${users} ${watched ? 'watched' : 'unwatched'}`] = await perEntry(client, call)
    }
  }
  return out
}

const redis = await startRedis()
const client = redis.client()
const results = []
const range = (s) => `${round(s.min)} / ${round(s.median)} / ${round(s.max)}`
const row = (name, s) => results.push({ name, value: range(s), unit: 'µs/entry', goal: null, pass: null })
try {
  log('mechanisms…')
  const m = await mechanisms(client)
  for (const bytes of [100, 1000]) {
    row(`arguments only, ${bytes} B entries`, m[`arguments ${bytes}`])
    row(`LPUSH + LTRIM, ${bytes} B entries`, m[`push ${bytes}`])
    row(`RPUSH + LTRIM, ${bytes} B entries`, m[`rpush ${bytes}`])
    row(`table.concat + PUBLISH, ${bytes} B entries`, m[`concat ${bytes}`])
    row(`PUBLISH of the client's message, ${bytes} B entries`, m[`publish ${bytes}`])
    row(`one LPUSH per entry, each into its own list, ${bytes} B entries`, m[`perUser ${bytes}`])
  }
  const perByte = (m['arguments 1000'].median - m['arguments 100'].median) / 900
  results.push({
    name: 'arguments: Redis time per argument byte (median)', value: round(perByte * 1000, 2), unit: 'ns/B',
    goal: null, pass: null
  })
  log('write script…')
  const w = await writeScript(client, new Keys('userlog'))
  for (const users of [1, 50]) {
    row(`write script, ${users} user${users > 1 ? 's' : ''} per batch, nobody watching`, w[`${users} unwatched`])
    row(`write script, ${users} user${users > 1 ? 's' : ''} per batch, all-users stream watched`, w[`${users} watched`])
  }
} finally {
  client.disconnect()
  await redis.stop()
}

printResults({
  benchmark: 'script-cost', title: 'Redis time inside the write script, per entry', results, json: opt.json
})
