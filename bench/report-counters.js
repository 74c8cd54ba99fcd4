#!/usr/bin/env node
// What the report counters cost per entry. The contributor (src/report/counters.ts) runs for
// every entry of every write batch; this measures, on batches of 1,000 entries:
//   js       building the script call with the contributor minus without it, per entry (ns)
//   ops      report ops it adds to a batch (each is 4 ARGV strings for the script)
//   redis    the script call's time in Redis with the counters minus without them, per entry (ns)
// Two workloads: server requests (200 users, 20 User-Agents, 30 routes), and a mix with client
// events (page views over 300 paths, interactions, heartbeats, session ends).
//
//   node bench/report-counters.js [--quick] [--json]        (uses dist/: `npm run build` first)
import { parseArgs } from 'node:util'
import { performance } from 'node:perf_hooks'
import { buildScriptCall } from '../dist/write/batch.js'
import { Keys } from '../dist/shared/keys.js'
import { validateOptions } from '../dist/options.js'
import { reportContributor } from '../dist/report/counters.js'
import { WRITE_SCRIPT } from '../dist/write/script.js'
import { startRedis } from './lib/redis.js'

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false }
  }
})
const ROUNDS = opt.quick ? 200 : 2000
const REDIS_ROUNDS = opt.quick ? 20 : 200
const BATCH = 1000
const log = (...a) => console.error(...a)

const keys = new Keys('userlog')
const settings = { keys, maxEntries: 100, ttl: 86_400, indexCap: 100_000, publish: false }
const uas = Array.from({ length: 20 }, (_, i) => [
  `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/13${i}.0.0.0 Safari/537.36`,
  `Mozilla/5.0 (X11; Linux x86_64; rv:12${i}.0) Gecko/20100101 Firefox/12${i}.0`
][i % 2])

function requests (start) {
  return Array.from({ length: BATCH }, (_, i) => ({
    id: `r${i}`, t: start + i, user: `user${i % 200}`, kind: 'request', method: 'GET', path: `/items/${i}?page=2`,
    route: `/route/${i % 30}/:id`, status: 200, ms: 1.2, ip: '203.0.113.9', ua: uas[i % uas.length], reqId: `req-${i}`
  }))
}

const KINDS = ['pageview', 'heartbeat', 'interaction', 'pageview', 'session_end']
function mixed (start) {
  return Array.from({ length: BATCH }, (_, i) => i % 2 === 0
    ? requests(start)[i]
    : {
        id: `c${i}`, t: start + i, user: `user${i % 200}`, kind: KINDS[i % KINDS.length], src: 'client',
        sid: `sid${i % 150}`, path: `/page/${i % 300}?x=1`, event: 'click', element: 'buy', duration: i % 600,
        ua: uas[i % uas.length]
      })
}

function median (xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

/** ns per entry of building a batch's script call, with and without the contributor. */
function jsCost (make) {
  const contribute = reportContributor({ settings: validateOptions({ timeZone: 'Europe/Paris' }), keys })
  const batches = Array.from({ length: 8 }, (_, i) => make(Date.now() + i * BATCH))
  const time = (contributors) => {
    const samples = []
    for (let r = 0; r < ROUNDS; r++) {
      const entries = batches[r % batches.length]
      const t0 = performance.now()
      buildScriptCall('w', r, entries, settings, contributors, Date.now())
      samples.push(performance.now() - t0)
    }
    return median(samples) * 1e6 / BATCH
  }
  // Warm up both paths, then interleave the measurements.
  time([]); time([contribute])
  const without = []; const withIt = []
  for (let i = 0; i < 5; i++) { without.push(time([])); withIt.push(time([contribute])) }
  const base = buildScriptCall('w', 0, batches[0], settings, [], Date.now())
  const full = buildScriptCall('w', 0, batches[0], settings, [contribute], Date.now())
  return { ns: median(withIt) - median(without), base: median(without), ops: (full.argv.length - base.argv.length) / 4 }
}

/** ns per entry of the script call in Redis, with and without the counters. */
async function redisCost (client, make) {
  client.defineCommand('userlogWrite', { lua: WRITE_SCRIPT })
  const contribute = reportContributor({ settings: validateOptions({ timeZone: 'Europe/Paris' }), keys })
  let seq = 0
  const run = async (contributors) => {
    const samples = []
    for (let r = 0; r < REDIS_ROUNDS; r++) {
      const call = buildScriptCall('w', ++seq, make(Date.now()), settings, contributors, Date.now())
      const t0 = performance.now()
      await client.userlogWrite(call.keys.length, ...call.keys.values, ...call.argv.values)
      samples.push(performance.now() - t0)
    }
    return median(samples) * 1e6 / BATCH
  }
  await run([]); await run([contribute])
  const without = []; const withIt = []
  for (let i = 0; i < 3; i++) { without.push(await run([])); withIt.push(await run([contribute])) }
  return { ns: median(withIt) - median(without), base: median(without) }
}

const redis = await startRedis()
const client = redis.client()
const results = []
try {
  for (const [name, make] of [['requests', requests], ['mixed', mixed]]) {
    log(`${name}: building batches…`)
    const js = jsCost(make)
    log(`${name}: writing batches to Redis…`)
    const rs = await redisCost(client, make)
    results.push(
      {
        name: `${name}: contributor, JS per entry`, value: Math.round(js.ns), unit: 'ns', goal: null, pass: null,
        base: Math.round(js.base)
      },
      { name: `${name}: report ops per 1,000-entry batch`, value: js.ops, unit: 'ops', goal: null, pass: null },
      {
        name: `${name}: counters in Redis per entry`, value: Math.round(rs.ns), unit: 'ns', goal: null, pass: null,
        base: Math.round(rs.base)
      }
    )
  }
} finally {
  client.disconnect()
  await redis.stop()
}

if (opt.json) {
  console.log(JSON.stringify({ benchmark: 'report-counters', title: 'Report counters: cost per entry', results }))
} else {
  for (const r of results) {
    const base = r.base !== undefined ? ` (batch without counters: ${r.base} ${r.unit})` : ''
    console.log(`${r.name}: ${r.value} ${r.unit}${base}`)
  }
}
