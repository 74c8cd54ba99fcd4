#!/usr/bin/env node
// What time on page adds to a write batch (src/report/counters.ts, time-on-page.ts). Batches of
// 1,000 client events (per 10: 2 page views, 5 heartbeats, 2 session_end with activeMs, 1
// interaction; 300 paths, 150 sessions) are written twice: as they are, and with the counters
// shown each entry without activeMs and without a heartbeat path, which is the report as it was
// (the logged entries are the same both ways). Figures, per 1,000-entry batch and per
// session_end or heartbeat, and for a batch of a lone session_end or heartbeat:
//   ops       report ops added to the script call (exact)
//   commands  Redis commands the script runs in addition (INFO commandstats)
//   redis     the script call's extra time in Redis (min / median / max over repetitions)
//   js        the extra time building the script call, per entry
//
//   node bench/time-on-page.js [--quick] [--json]        (uses dist/: `npm run build` first)
import { parseArgs } from 'node:util'
import { performance } from 'node:perf_hooks'
import { buildScriptCall } from '../dist/write/batch.js'
import { Keys } from '../dist/shared/keys.js'
import { validateOptions } from '../dist/options.js'
import { reportContributor } from '../dist/report/counters.js'
import { WRITE_SCRIPT } from '../dist/write/script.js'
import { startRedis, parseInfo, commandCalls } from './lib/redis.js'
import { median, summary, round } from './lib/stats.js'

const { values: opt } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } }
})
const JS_ROUNDS = opt.quick ? 200 : 2000
const REDIS_ROUNDS = opt.quick ? 20 : 100
const REPEATS = opt.quick ? 3 : 7
const BATCH = 1000
const log = (...a) => console.error(...a)

const keys = new Keys('userlog')
const settings = { keys, maxEntries: 100, ttl: 86_400, indexCap: 100_000, publish: false }
const KINDS = ['pageview', 'heartbeat', 'heartbeat', 'session_end', 'heartbeat', 'pageview', 'heartbeat',
  'interaction', 'heartbeat', 'session_end']

function batch (start) {
  return Array.from({ length: BATCH }, (_, i) => {
    const kind = KINDS[i % KINDS.length]
    const e = {
      id: `c${i}`, t: start + i, user: `user${i % 200}`, kind, src: 'client', sid: `sid${i % 150}`,
      path: `/page/${i % 300}?x=1`, ua: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
    }
    if (kind === 'interaction') Object.assign(e, { event: 'click', element: 'buy' })
    if (kind === 'session_end') {
      Object.assign(e, { duration: i % 600, activeMs: 5000 + (i * 7919) % 120_000, pageMs: 130_000 })
    }
    return e
  })
}
const TIMED = batch(0).filter((e) => e.kind === 'session_end' || e.kind === 'heartbeat').length

/** The entry as the report saw it before time on page: no activeMs, no heartbeat path. */
function before (e) {
  const rest = { ...e }
  delete rest.activeMs
  delete rest.pageMs
  if (e.kind === 'heartbeat') delete rest.path
  return rest
}

/** Contributors seeing each entry as it is, or as before; the same lookup either way. */
function contributors () {
  const contribute = reportContributor({ settings: validateOptions({ timeZone: 'Europe/Paris' }), keys })
  const seen = new Map()
  const view = (strip) => (e, ops) => {
    let v = seen.get(e)
    if (v === undefined) seen.set(e, v = [e, before(e)])
    contribute(v[strip ? 1 : 0], ops)
  }
  return { now: [view(false)], then: [view(true)], forget: () => seen.clear() }
}

function jsCost () {
  const c = contributors()
  const batches = Array.from({ length: 8 }, (_, i) => batch(Date.now() + i * BATCH))
  const time = (list) => {
    const samples = []
    for (let r = 0; r < JS_ROUNDS; r++) {
      const t0 = performance.now()
      buildScriptCall('w', r, batches[r % batches.length], settings, list, Date.now())
      samples.push(performance.now() - t0)
    }
    return median(samples) * 1e6 / BATCH
  }
  time(c.then); time(c.now)
  const diffs = []
  for (let i = 0; i < REPEATS; i++) diffs.push(time(c.now) - time(c.then))
  const one = batches[0]
  const ops = (list) => buildScriptCall('w', 0, one, settings, list, Date.now()).argv.length
  return { ns: summary(diffs), ops: (ops(c.now) - ops(c.then)) / 4 }
}

/** The writer's batch number: the script skips a number it has seen (a replayed batch). */
let seq = 0

async function redisCost (client, make = batch, repeats = REPEATS) {
  const c = contributors()
  const calls = async () => commandCalls(parseInfo(await client.info('commandstats')))
  const run = async (list) => {
    const samples = []
    await client.config('RESETSTAT')
    for (let r = 0; r < REDIS_ROUNDS; r++) {
      const call = buildScriptCall('w', ++seq, make(Date.now()), settings, list, Date.now())
      const t0 = performance.now()
      await client.userlogWrite(call.keys.length, ...call.keys.values, ...call.argv.values)
      samples.push(performance.now() - t0)
    }
    const stats = await calls()
    const commands = Object.entries(stats)
      .filter(([name]) => !['evalsha', 'eval', 'config', 'info'].includes(name))
      .reduce((a, [, n]) => a + n, 0)
    c.forget()
    return { ms: median(samples), commands: commands / REDIS_ROUNDS }
  }
  await run(c.then); await run(c.now)
  const diffs = []
  const bases = []
  let commands = 0
  for (let i = 0; i < repeats; i++) {
    const without = await run(c.then)
    const withIt = await run(c.now)
    bases.push(without.ms)
    diffs.push(withIt.ms - without.ms)
    commands = withIt.commands - without.commands
  }
  return { ms: summary(diffs), base: median(bases), commands }
}

/** A batch of one entry of this kind (a quiet site writes small batches). */
const lone = (kind) => (start) => batch(start).filter((e) => e.kind === kind).slice(0, 1)

/** Ops and Redis commands one lone entry of each kind adds. */
async function loneCosts (client) {
  const out = {}
  for (const kind of ['session_end', 'heartbeat']) {
    const c = contributors()
    const one = lone(kind)(Date.now())
    const ops = (list) => buildScriptCall('w', 0, one, settings, list, Date.now()).argv.length
    out[kind] = { ops: (ops(c.now) - ops(c.then)) / 4, commands: (await redisCost(client, lone(kind), 1)).commands }
  }
  return out
}

const redis = await startRedis()
const client = redis.client()
const results = []
try {
  log('building batches…')
  const js = jsCost()
  log('writing batches to Redis…')
  client.defineCommand('userlogWrite', { lua: WRITE_SCRIPT })
  const rs = await redisCost(client)
  const single = await loneCosts(client)
  const perTimed = (x) => round(x / TIMED, 2)
  const range = (s, f) => `${f(s.min)} / ${f(s.median)} / ${f(s.max)}`
  results.push(
    ...['session_end', 'heartbeat'].flatMap((kind) => [
      { name: `a lone ${kind}: ops added`, value: single[kind].ops, unit: 'ops', goal: null, pass: null },
      {
        name: `a lone ${kind}: Redis commands added`, value: round(single[kind].commands, 1), unit: 'commands',
        goal: null, pass: null
      }
    ]),
    { name: 'ops added per 1,000-entry batch', value: js.ops, unit: 'ops', goal: null, pass: null },
    { name: 'ops added per session_end or heartbeat', value: perTimed(js.ops), unit: 'ops', goal: null, pass: null },
    { name: 'Redis commands added per batch', value: round(rs.commands, 1), unit: 'commands', goal: null, pass: null },
    {
      name: 'Redis commands added per session_end or heartbeat', value: perTimed(rs.commands), unit: 'commands',
      goal: null, pass: null
    },
    {
      name: 'script time added per batch (min / median / max)', value: range(rs.ms, (x) => round(x, 3)), unit: 'ms',
      goal: null, pass: null
    },
    {
      name: 'script time per batch before time on page (median)', value: round(rs.base, 3), unit: 'ms',
      goal: null, pass: null
    },
    {
      name: 'script time added per session_end or heartbeat (median)', value: Math.round(rs.ms.median * 1e6 / TIMED),
      unit: 'ns', goal: null, pass: null
    },
    {
      name: 'JS added per entry (min / median / max)', value: range(js.ns, (x) => Math.round(x)), unit: 'ns',
      goal: null, pass: null
    }
  )
} finally {
  client.disconnect()
  await redis.stop()
}

if (opt.json) {
  console.log(JSON.stringify({ benchmark: 'time-on-page', title: 'Time on page: cost per batch', results }))
} else {
  for (const r of results) console.log(`${r.name}: ${r.value} ${r.unit}`)
}
