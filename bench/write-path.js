#!/usr/bin/env node
// What the plugin's write path costs the host per entry, without HTTP: the part of the request
// hook's cost that the plugin controls, measured with less noise than a load test can give on a
// small machine. In this one process, entries like the request hook's are pushed at a steady
// rate (a tick every millisecond) for a window, and the process's CPU time (process.cpuUsage)
// is divided by the entries. Three ways, alternating within each round:
//   idle      the same ticks, pushing nothing: subtracted from the other two
//   build     each tick's entries turned into the script call (JSON, grouping, the writer's
//             memory, the report and session ops: buildScriptCall), never sent
//   write     the plugin's BatchWriter writing to a private redis-server (the above, plus
//             ioredis serialising the call, the socket, the reply)
// for 1 user, 1,000 users in turn and Zipf 10,000 users. Figures: min / median / max over the
// rounds of (CPU of the way − CPU of idle) ÷ entries.
//
//   node bench/write-path.js [--quick] [--json] [--rounds N] [--rate ENTRIES_PER_S]
//   (uses dist/: `npm run build` first)
import { parseArgs } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { BatchWriter } from '../dist/write/writer.js'
import { buildScriptCall, freshMemory } from '../dist/write/batch.js'
import { Keys } from '../dist/shared/keys.js'
import { requestEntry } from '../dist/write/entry.js'
import { validateOptions } from '../dist/options.js'
import { reportContributor } from '../dist/report/counters.js'
import { sessionContributor } from '../dist/collector/sessions.js'
import { printResults } from './lib/machine.js'
import { startRedis } from './lib/redis.js'
import { summary, round } from './lib/stats.js'
import { zipf } from './lib/users.js'

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    rate: { type: 'string', default: '12000' }
  }
})
const ROUNDS = Number(opt.rounds ?? (opt.quick ? 2 : 7))
const WINDOW_MS = opt.quick ? 500 : 2000
const PER_TICK = Math.max(1, Math.round(Number(opt.rate) / 1000))
const log = (...a) => console.error(...a)

const USERS = {
  '1 user': ['alice'],
  '1,000 users': Array.from({ length: 1000 }, (_, i) => `user${String(i).padStart(4, '0')}`),
  'Zipf 10,000 users': zipf(10_000, 50_000)
}
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36'

let n = 0
/** An entry as the request hook makes it (requestEntry, from a request's fields). */
function entry (user) {
  n++
  const req = {
    url: `/api/items/${n % 97}?page=${n % 5}`, method: 'GET', headers: { 'user-agent': UA }, ip: '127.0.0.1',
    id: `req-${n}`, routeOptions: { url: '/api/items/:id' }
  }
  return requestEntry(req, { statusCode: 200, elapsedTime: 1.2 }, user, NO_REDACT)
}
const NO_REDACT = new Set()

const quiet = { debug () {}, info () {}, warn () {}, error () {}, fatal () {}, trace () {}, child () { return quiet } }

/** Ticks every millisecond for WINDOW_MS, calling `tick(i)`; returns CPU µs used and ticks run. */
async function window (tick) {
  const c0 = process.cpuUsage()
  const end = performance.now() + WINDOW_MS
  let ticks = 0
  while (performance.now() < end) {
    tick(ticks++)
    await sleep(1)
  }
  const c = process.cpuUsage(c0)
  return { cpu: c.user + c.system, ticks }
}

const redis = await startRedis()
const client = redis.client()
const results = []
try {
  const settings = validateOptions({ redis: redis.url })
  const keys = new Keys('benchwp')
  const batch = { keys, maxEntries: 1000, ttl: settings.ttl, indexCap: 100_000, publish: true }
  const contributors = () => [sessionContributor({ settings, keys }), reportContributor({ settings, keys })]
    .filter((c) => c !== null)
  for (const [label, users] of Object.entries(USERS)) {
    let u = 0
    const next = () => users[u++ % users.length]
    const writer = new BatchWriter(client, batch, 1_000_000, quiet, contributors())
    const building = contributors()
    const memory = freshMemory(batch)
    let seq = 0
    const ways = {
      idle: () => {},
      build: () => {
        const entries = []
        for (let i = 0; i < PER_TICK; i++) entries.push(entry(next()))
        const call = buildScriptCall('bench', ++seq, entries, batch, building, Date.now(), false, memory)
        memory.written(call.shares, Date.now())
      },
      write: () => { for (let i = 0; i < PER_TICK; i++) writer.push(entry(next())) }
    }
    log(`${label}: warming up…`)
    for (const tick of Object.values(ways)) await window(tick)
    await writer.flush()
    const per = { build: [], write: [] }
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? ['idle', 'build', 'write'] : ['write', 'build', 'idle']
      const got = {}
      for (const way of order) {
        got[way] = await window(ways[way])
        if (way === 'write') await writer.flush()
      }
      const idlePerTick = got.idle.cpu / got.idle.ticks
      for (const way of ['build', 'write']) {
        per[way].push((got[way].cpu - idlePerTick * got[way].ticks) / (got[way].ticks * PER_TICK))
      }
    }
    const stats = writer.stats()
    if (stats.dropped !== 0 || stats.failedBatches !== 0) throw new Error(`${label}: the writer dropped or failed`)
    for (const way of ['build', 'write']) {
      const s = summary(per[way])
      results.push({
        name: `${way === 'build' ? 'building the script call' : 'writing to Redis'}, ${label} (min / median / max)`,
        value: `${round(s.min, 1)} / ${round(s.median, 1)} / ${round(s.max, 1)}`, unit: 'µs/entry', goal: '', pass: null
      })
    }
    await writer.close(5000)
  }
} finally {
  client.disconnect()
  await redis.stop()
}

printResults({
  benchmark: 'write-path',
  title: `Host CPU of the write path per entry, ${PER_TICK * 1000} entries/s, no HTTP`,
  results,
  json: opt.json
})
