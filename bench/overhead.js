#!/usr/bin/env node
// What fastify-userlog costs a host, measured side by side against the same app without it.
//
// Six servers, each in its own process so that each one's CPU time can be read alone:
//   bare        Fastify hello world (GET /hello); an onRequest hook sets req.user from x-user
//   empty hook  bare + an empty onResponse hook: the floor any onResponse hook pays
//   logger      bare with Fastify's `logger: true` (pino, to /dev/null): the request logging a
//               host already accepts, to compare the plugin's cost with
//   1 user      bare + fastify-userlog; every request by the same user
//   1,000 users bare + fastify-userlog; the load generator rotates over 1,000 user names
//   Zipf 10,000 bare + fastify-userlog; 10,000 users whose shares of the requests follow a Zipf
//               distribution (s = 1): a few users make most requests, most make a few
// They share one private redis-server (--cluster: a private three-node Redis Cluster instead).
// Nobody watches by default: no realtime server holds a lease, so the plugin publishes nothing,
// which is a host's usual state (a support agent watches one user now and then). With
// --watch-all, a realtime server watching all users is simulated (the all-users lease is held and
// the bench counts the entries published there): the script then also builds and publishes the
// whole batch. No single user is watched either way.
//
// autocannon loads one server at a time for a fixed duration (a "window"); a round loads each
// server once, and the order rotates from round to round, so drift (thermal, other load) hits
// every variant alike. Per-round figures of a plugin variant are compared with bare's figures of
// the same round (paired), and the median over rounds is reported.
//
//   node bench/overhead.js [--quick] [--json] [--rounds N] [--duration S] [--connections C] [--warmup S]
//     [--profile] [--plugin FILE] [--compare FILE] [--cluster]
//
// --connections: 100 by default, as in Fastify's own benchmarks: throughput is a saturation figure.
// With few connections and the load generator, the server and Redis on two cores, the run turns
// latency-bound (the server idles whenever Redis preempts the load generator) and the ratio
// measures the scheduler more than the plugin (see the README, Performance).
// --quick: 3 rounds of 1 s (2 s warm-up).  --json: the figures as JSON on stdout (progress goes to stderr).
// Exit code 0 when the run completed (missed goals are marked MISS in the output), 2 on an error.
// --profile: the V8 sampling profiler runs in every server over the measured windows; prints
// where each plugin variant spends its time, and what it spends more than bare, per function
// (profiling slows the servers down: take the figures from a run without it).
// --plugin FILE: load the plugin from FILE (a module exporting `userlog`) instead of dist/index.js.
// --compare FILE: also run both plugin variants with the build in FILE, in the same rounds, to
// compare a modified build with the current one under the same conditions.
// --cluster: the plugin writes to a three-node Redis Cluster (seed-list `redis` option: one script
// call per hash slot a batch touches, all-users stream on sharded channels); Redis figures are
// summed over the nodes.
// --watch-all: the all-users stream is watched throughout (see above).
import { fork, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import autocannon from 'autocannon'
import { startRedis, startCluster, parseInfo, commandCalls } from './lib/redis.js'
import { machine, machineLine } from './lib/machine.js'
import { summary, round } from './lib/stats.js'
import { BROWSER_UA as USER_AGENT, THOUSAND_USERS as THOUSAND, zipf } from './lib/users.js'
import { loadProfile, report as profileReport, isPluginFrame } from './lib/cpuprofile.js'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string', default: '100' },
    warmup: { type: 'string' },
    profile: { type: 'boolean', default: false },
    plugin: { type: 'string' },
    compare: { type: 'string' },
    cluster: { type: 'boolean', default: false },
    load: { type: 'string', default: 'autocannon' },
    rate: { type: 'string' },
    'watch-all': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false }
  }
})
if (opt.help) {
  console.log('usage: node bench/overhead.js [--quick] [--json] [--rounds N] [--duration S] [--connections C] ' +
    '[--warmup S] [--profile] [--plugin FILE] [--compare FILE] [--cluster] [--load autocannon|wrk] [--watch-all]')
  process.exit(0)
}

const ROUNDS = Number(opt.rounds ?? (opt.quick ? 3 : 10))
const DURATION = Number(opt.duration ?? (opt.quick ? 1 : 3))
// Seconds per variant before the first round (JIT, heap sizing).
const WARMUP = Number(opt.warmup ?? (opt.quick ? 2 : 3))
const CONNECTIONS = Number(opt.connections)
const PLUGIN = opt.plugin === undefined ? here('../dist/index.js') : resolve(opt.plugin)
const COMPARE = opt.compare === undefined ? null : resolve(opt.compare)
const MAX_ENTRIES = 100_000 // the servers' maxEntries (lib/server.js)
const WATCH_ALL = opt['watch-all']
const RATE = opt.rate === undefined ? null : Number(opt.rate)

const GOALS = {
  addedCpuOne: 4, // µs per logged request, one user
  addedCpuMany: 6, // µs per logged request, 1,000 users and Zipf 10,000
  vsLogger: 0.25, // the plugin's added CPU ÷ what logger: true adds
  redisCpuOne: 3, // Redis CPU µs per logged entry, one user
  redisCpuMany: 5, // … 1,000 users and Zipf 10,000
  ratioOne: 0.85, // req/s with the plugin ÷ bare, one user
  ratioMany: 0.75, // … 1,000 users
  commandsPerRequest: opt.cluster ? 0.05 : 0.1 // top-level Redis commands per logged request
}

const log = (...a) => { if (opt.json) console.error(...a); else console.log(...a) }

const ONE = ['alice']

const ZIPF = zipf(10_000, 50_000)

/**
 * One window of load from wrk (Debian's `wrk`), so the figures do not rest on one load generator:
 * one thread, the same connections, users rotated by a Lua script (1,000 names, or the Zipf draw).
 * Returns what the window needs in autocannon's shape, plus wrk's own CPU time.
 */
async function wrk (v, seconds) {
  const dir = mkdtempSync(join(tmpdir(), 'userlog-bench-wrk-'))
  const script = join(dir, 'users.lua')
  const names = [...new Set(v.users)].length === v.users.length ? v.users : v.users.slice(0, 50_000)
  writeFileSync(script, `local users = {${names.map((u) => `'${u}'`).join(',')}}
local i = 0
request = function ()
  i = i % #users + 1
  return wrk.format('GET', '/hello', { ['x-user'] = users[i], ['user-agent'] = '${USER_AGENT}' })
end
`)
  const child = spawn('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-s', script,
    `http://127.0.0.1:${v.port}`], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d) => { out += d })
  let cpu = { user: 0, system: 0 }
  // wrk's CPU time, read from /proc just before it exits (clock ticks of 10 ms).
  const timer = setInterval(() => {
    try {
      const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ')
      cpu = { user: Number(f[11]) * 10_000, system: Number(f[12]) * 10_000 }
    } catch {
      // wrk has just exited: keep the last reading.
    }
  }, 100)
  await new Promise((resolve, reject) => { child.once('exit', resolve); child.once('error', reject) })
  clearInterval(timer)
  rmSync(dir, { recursive: true, force: true })
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN)
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out)
  const ms = p99 === null ? NaN : Number(p99[1]) * ({ us: 0.001, ms: 1, s: 1000 })[p99[2]]
  const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) +
    [...out.matchAll(/(connect|read|write|timeout) (\d+)/g)].reduce((n, m) => n + Number(m[2]), 0)
  return { '2xx': requests, duration: seconds, errors, timeouts: 0, non2xx: 0, latency: { p99: ms }, cpu }
}

/** An autocannon setupRequest that sets x-user to the next name of `users`, round and round. */
function nextUser (users) {
  let i = 0
  return (req) => {
    req.headers = { 'x-user': users[i], 'user-agent': USER_AGENT }
    i = (i + 1) % users.length
    return req
  }
}

const VARIANTS = [
  { key: 'bare', label: 'bare Fastify', server: 'bare', users: ONE },
  { key: 'emptyHook', label: 'empty onResponse hook', server: 'empty-hook', users: ONE },
  { key: 'logger', label: 'Fastify logger: true', server: 'logger', users: ONE },
  { key: 'oneUser', label: 'fastify-userlog, 1 user', server: 'plugin', users: ONE, prefix: 'bench1' },
  { key: 'thousandUsers', label: 'fastify-userlog, 1,000 users', server: 'plugin', users: THOUSAND, prefix: 'bench1k' },
  {
    key: 'zipfUsers', label: 'fastify-userlog, Zipf 10,000 users', server: 'plugin', users: ZIPF, distinct: 10_000,
    prefix: 'benchZ'
  }
]
if (COMPARE !== null) {
  VARIANTS.push(
    {
      key: 'oneUserCompared', label: '--compare build, 1 user', server: 'plugin', users: ONE, prefix: 'benchB1',
      plugin: COMPARE
    },
    {
      key: 'thousandUsersCompared', label: '--compare build, 1,000 users', server: 'plugin', users: THOUSAND,
      prefix: 'benchB1k', plugin: COMPARE
    })
}

/** A child process answering IPC requests ({ type, id, ... } → { type, id, ... }). */
function child (file, args) {
  const proc = fork(file, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const waiting = new Map()
  let seq = 0
  let onReady
  const ready = new Promise((resolve, reject) => {
    onReady = resolve
    proc.once('exit', (code) => {
      const err = new Error(`${file} ${args[0] ?? ''} exited with code ${code}`)
      reject(err)
      for (const { reject } of waiting.values()) reject(err)
      waiting.clear()
    })
  })
  ready.catch(() => {})
  proc.on('message', (msg) => {
    if (msg.type === 'ready') onReady(msg)
    else if (waiting.has(msg.id)) {
      waiting.get(msg.id).resolve(msg)
      waiting.delete(msg.id)
    }
  })
  return {
    proc,
    ready,
    async request (msg) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${file} ${args[0] ?? ''} is not running`)
      const id = ++seq
      const reply = new Promise((resolve, reject) => waiting.set(id, { resolve, reject }))
      proc.send({ ...msg, id })
      return await reply
    },
    async stop () {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      const exited = new Promise((resolve) => proc.once('exit', resolve))
      proc.send({ type: 'exit' })
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
  }
}

/** CPU time the whole machine has been busy, in µs (Linux /proc/stat; null elsewhere). */
function machineBusy () {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
    const [user, nice, system, , , irq, softirq, steal] = f
    return (user + nice + system + irq + softirq + (steal ?? 0)) * 10_000 // USER_HZ is 100 on Linux
  } catch {
    return null
  }
}

const logKey = (prefix, user) => `${prefix}:{${user}}:log` // the bench's user names need no encoding

async function main () {
  for (const file of [PLUGIN, COMPARE ?? PLUGIN]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first`)
  }
  const m = machine()
  const started = Date.now()
  log(`fastify-userlog overhead: ${ROUNDS} rounds × ${DURATION} s per variant, ` +
    `${CONNECTIONS} connections, pipelining 1`)
  log(`machine: ${machineLine(m)}`)
  if (opt.plugin !== undefined) log(`plugin loaded from ${PLUGIN}`)
  if (COMPARE !== null) log(`compared with the build in ${COMPARE}`)

  if (opt.cluster) log('Redis: a three-node cluster')
  const redis = opt.cluster ? await startCluster() : await startRedis()
  const admin = redis.client()
  const sub = redis.client()
  // INFO is per node: on a cluster, summed over every node.
  const infoNodes = opt.cluster ? redis.nodes() : [admin]
  const profileDir = opt.profile ? mkdtempSync(join(tmpdir(), 'userlog-bench-profile-')) : null
  const servers = new Map()
  try {
    for (const v of VARIANTS) {
      const args = [v.server, redis.url, v.prefix ?? 'none', pathToFileURL(v.plugin ?? PLUGIN).href]
      const c = child(here('./lib/server.js'), args)
      servers.set(v.key, c)
    }
    for (const v of VARIANTS) v.port = (await servers.get(v.key).ready).port

    // Entries published on each plugin variant's all-users channel (messages are JSON arrays of
    // entries, each starting with {"id":). Counted in the raw bytes: this process is also the load
    // generator, and decoding and parsing ~15 MB/s of JSON here would slow the load, not the server.
    const ENTRY_START = Buffer.from('{"id":')
    const entriesIn = (buf) => {
      let n = 0
      for (let i = buf.indexOf(ENTRY_START); i !== -1; i = buf.indexOf(ENTRY_START, i + ENTRY_START.length)) n++
      return n
    }
    const live = new Map()
    // Only with --watch-all: the all-users stream is subscribed to and its lease held.
    if (WATCH_ALL) {
      for (const v of VARIANTS) if (v.prefix) live.set(`${v.prefix}:live:*all`, 0)
      if (opt.cluster) {
        // The all-users stream of a cluster: ALL_SHARDS (8) sharded channels per prefix.
        const shardOf = new Map()
        for (const all of live.keys()) {
          for (let k = 0; k < 8; k++) shardOf.set(`${all.slice(0, -'*all'.length)}{*all.${k}}`, all)
        }
        sub.on('smessageBuffer', (channel, message) => {
          const all = shardOf.get(String(channel))
          live.set(all, live.get(all) + entriesIn(message))
        })
        for (const channel of shardOf.keys()) await sub.ssubscribe(channel)
      } else {
        sub.on('messageBuffer', (channel, message) => {
          const c = String(channel)
          live.set(c, live.get(c) + entriesIn(message))
        })
        await sub.subscribe(...live.keys())
      }
      // A realtime server watching all users holds this lease (renewed every 10 s, as one does).
      const holdLeases = async () => {
        for (const v of VARIANTS) if (v.prefix) await admin.set(`${v.prefix}:watch:{*all}`, '1', 'PX', 30_000)
      }
      await holdLeases()
      setInterval(() => { holdLeases().catch(() => {}) }, 10_000).unref()
    }

    const info = async () => {
      const calls = {}
      let cpu = 0
      for (const node of infoNodes) {
        const i = parseInfo(await node.info('commandstats', 'cpu'))
        for (const [name, n] of Object.entries(commandCalls(i))) calls[name] = (calls[name] ?? 0) + n
        cpu += (Number(i.used_cpu_user) + Number(i.used_cpu_sys)) * 1e6
      }
      return { calls, cpu }
    }

    /** Loads one variant for `seconds` and returns what that window cost. */
    // Per variant: entries left in its logs after the last window (one per log), not counted again.
    const keptEntries = new Map()
    const window = async (v, seconds) => {
      const server = servers.get(v.key)
      const i0 = await info()
      const s0 = await server.request({ type: 'snap', flush: true })
      const g0 = process.cpuUsage()
      const m0 = machineBusy()
      const t0 = performance.now()
      const result = opt.load === 'wrk'
        ? await wrk(v, seconds)
        : await autocannon({
          url: `http://127.0.0.1:${v.port}`,
          connections: CONNECTIONS,
          pipelining: 1,
          duration: seconds,
          ...(RATE === null ? {} : { overallRate: RATE }),
          // Several users: one request template whose user is the next one of the list, whichever
          // connection sends it (with a template per user, every connection would walk the list
          // from its start in step with the others, and a batch would hold a few dozen users, not
          // hundreds). One user: a fixed request, which costs the load generator least.
          requests: v.users.length === 1
            ? [{ method: 'GET', path: '/hello', headers: { 'x-user': v.users[0], 'user-agent': USER_AGENT } }]
            : [{ method: 'GET', path: '/hello', setupRequest: nextUser(v.users) }]
        })
      const wallUs = (performance.now() - t0) * 1000
      const g1 = opt.load === 'wrk' ? result.cpu : process.cpuUsage(g0)
      const m1 = machineBusy()
      await sleep(20) // let the last requests of the window finish their hooks
      const s1 = await server.request({ type: 'snap', flush: true })
      const i1 = await info()

      const served = s1.served - s0.served
      const executed = {}
      let executedTotal = 0
      for (const [name, calls] of Object.entries(i1.calls)) {
        if (name === 'info') continue // the bench's own
        const d = calls - (i0.calls[name] ?? 0)
        if (d > 0) { executed[name] = d; executedTotal += d }
      }
      const topLevel = {}
      let topLevelTotal = 0
      for (const [name, n] of Object.entries(s1.sent)) {
        const d = n - (s0.sent[name] ?? 0)
        if (d > 0) { topLevel[name] = d; topLevelTotal += d }
      }
      const w = {
        rps: result['2xx'] / result.duration,
        responses2xx: result['2xx'],
        errors: result.errors + result.timeouts + result.non2xx,
        latencyP99ms: result.latency.p99,
        served,
        cpuUs: s1.cpu - s0.cpu,
        cpuPerRequest: (s1.cpu - s0.cpu) / served,
        cpuSystemPerRequest: (s1.cpuSystem - s0.cpuSystem) / served,
        topLevelCommands: topLevelTotal,
        topLevelByName: topLevel,
        executedCommands: executedTotal,
        executedByName: executed,
        redisCpuUs: i1.cpu - i0.cpu,
        // Share of one core each process used during the load: on a small machine the load
        // generator and Redis compete with the server, which caps req/s before the server does.
        serverBusy: (s1.cpu - s0.cpu) / wallUs,
        loadGeneratorBusy: (g1.user + g1.system) / wallUs,
        redisBusy: (i1.cpu - i0.cpu) / wallUs,
        // Cores busy with anything else (other programs, and kernel network work not charged
        // to a process).
        otherBusy: m0 === null
          ? NaN
          : ((m1 - m0) - (s1.cpu - s0.cpu) - (g1.user + g1.system) - (i1.cpu - i0.cpu)) / wallUs
      }
      if (s1.stats !== null) {
        w.written = s1.stats.written - s0.stats.written
        w.dropped = s1.stats.dropped - s0.stats.dropped
        w.batches = s1.stats.batches - s0.stats.batches
        w.failedBatches = s1.stats.failedBatches - s0.stats.failedBatches
        w.bufferedAfter = s1.stats.buffered
        // Count what reached the logs, then trim each to its newest entry for the next window.
        // Trimmed, not deleted: a host's logs outlive a few seconds, and a log written anew costs
        // the script its first-write bookkeeping (EXPIRE, index), which would inflate every window.
        const keys = [...new Set(v.users)].map((u) => logKey(v.prefix, u))
        // (One command per key on a cluster: the logs are in different slots.)
        const each = async (command, ...args) => opt.cluster
          ? await Promise.all(keys.map((k) => admin[command](k, ...args)))
          : (await admin.pipeline(keys.map((k) => [command, k, ...args])).exec())
              .map(([err, n]) => { if (err) throw err; return n })
        const lens = await each('llen')
        w.inLogs = lens.reduce((a, b) => a + b, 0) - (keptEntries.get(v.key) ?? 0)
        // A log that reached maxEntries was trimmed (one busy user can exceed it within a
        // window): then it must hold exactly maxEntries, and the writer's count (and the live
        // channel's, when watched) counts the rest.
        w.logCapped = lens.some((n) => n >= MAX_ENTRIES)
        w.logsOk = w.logCapped ? lens.every((n) => n <= MAX_ENTRIES) && w.inLogs <= served : w.inLogs === served
        await each('ltrim', 0, 0)
        keptEntries.set(v.key, lens.filter((n) => n > 0).length)
      }
      return w
    }

    log(`warming up (${WARMUP} s each)…`)
    for (const v of VARIANTS) await window(v, WARMUP)
    const liveBase = new Map(live)
    if (profileDir !== null) for (const c of servers.values()) await c.request({ type: 'profile-start' })

    const rounds = []
    for (let r = 0; r < ROUNDS; r++) {
      const order = VARIANTS.map((_, i) => VARIANTS[(i + r) % VARIANTS.length])
      const row = {}
      for (const v of order) row[v.key] = await window(v, DURATION)
      rounds.push({ order: order.map((v) => v.key), ...row })
      log(`round ${r + 1}/${ROUNDS}: ` + order.map((v) =>
        `${v.key} ${Math.round(row[v.key].rps)} req/s ${row[v.key].cpuPerRequest.toFixed(1)} µs`).join(' · '))
    }
    if (profileDir !== null) {
      for (const [key, c] of servers) {
        await c.request({ type: 'profile-stop', file: join(profileDir, `${key}.cpuprofile`) })
      }
    }
    await sleep(300) // the last live messages
    for (const [ch, n] of live) live.set(ch, n - liveBase.get(ch))

    const result = summarise(rounds, live, m)
    result.seconds = Math.round((Date.now() - started) / 1000)

    for (const c of servers.values()) await c.stop()
    servers.clear()
    if (profileDir !== null) result.profiles = profiles(profileDir, rounds)

    if (opt.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n')
    else print(result)
    return 0 // a missed goal is shown in the output, not in the exit code
  } finally {
    for (const c of servers.values()) await c.stop().catch(() => {})
    sub.disconnect()
    admin.disconnect()
    if (opt.cluster) for (const node of infoNodes) node.disconnect()
    await redis.stop()
  }
}

function summarise (rounds, live, m) {
  const per = (key, f) => rounds.map((r) => f(r[key], r))
  const sum = (key, field) => rounds.reduce((a, r) => a + (r[key][field] ?? 0), 0)
  const variants = {}
  for (const v of VARIANTS) {
    const served = sum(v.key, 'served')
    const out = {
      label: v.label,
      users: v.distinct ?? v.users.length,
      rps: summary(per(v.key, (w) => w.rps)),
      cpuPerRequest: summary(per(v.key, (w) => w.cpuPerRequest)),
      cpuSystemPerRequest: summary(per(v.key, (w) => w.cpuSystemPerRequest)),
      served,
      errors: sum(v.key, 'errors'),
      latencyP99ms: summary(per(v.key, (w) => w.latencyP99ms)),
      topLevelCommandsPerRequest: sum(v.key, 'topLevelCommands') / served,
      executedCommandsPerRequest: sum(v.key, 'executedCommands') / served,
      redisCpuPerRequest: sum(v.key, 'redisCpuUs') / served,
      serverBusy: summary(per(v.key, (w) => w.serverBusy)),
      loadGeneratorBusy: summary(per(v.key, (w) => w.loadGeneratorBusy)),
      redisBusy: summary(per(v.key, (w) => w.redisBusy)),
      otherBusy: summary(per(v.key, (w) => w.otherBusy))
    }
    if (v.key !== 'bare') {
      out.addedCpuPerRequest = summary(per(v.key, (w, r) => w.cpuPerRequest - r.bare.cpuPerRequest))
      out.throughputRatio = summary(per(v.key, (w, r) => w.rps / r.bare.rps))
      // What the ratio would be if the server's CPU were the only limit (bare µs/req ÷ this µs/req).
      out.cpuCapacityRatio = summary(per(v.key, (w, r) => r.bare.cpuPerRequest / w.cpuPerRequest))
    }
    if (v.prefix) {
      const written = sum(v.key, 'written')
      const batches = sum(v.key, 'batches')
      const total = (field) => {
        const t = {}
        for (const r of rounds) for (const [n, c] of Object.entries(r[v.key][field])) t[n] = (t[n] ?? 0) + c
        return t
      }
      const topLevelByName = total('topLevelByName')
      const executedByName = total('executedByName')
      Object.assign(out, {
        addedCpuVsEmptyHook: summary(per(v.key, (w, r) => w.cpuPerRequest - r.emptyHook.cpuPerRequest)),
        // The plugin's added CPU ÷ what Fastify's own request logging adds, paired per round.
        vsLogger: summary(per(v.key, (w, r) =>
          (w.cpuPerRequest - r.bare.cpuPerRequest) / (r.logger.cpuPerRequest - r.bare.cpuPerRequest))),
        redisCpuPerEntry: summary(per(v.key, (w) => w.redisCpuUs / w.served)),
        topLevelByName,
        executedByName,
        // Cross-check of the client-side count: the script calls Redis itself saw.
        scriptCallsSeenByRedis: (executedByName.evalsha ?? 0) + (executedByName.eval ?? 0),
        written,
        inLogs: sum(v.key, 'inLogs'),
        // null when nobody watches (nothing is published).
        live: live.get(`${v.prefix}:live:*all`) ?? null,
        dropped: sum(v.key, 'dropped'),
        batches,
        failedBatches: sum(v.key, 'failedBatches'),
        entriesPerBatch: written / batches,
        logCapped: rounds.filter((r) => r[v.key].logCapped).length,
        logsOk: rounds.every((r) => r[v.key].logsOk),
        leftBuffered: rounds.at(-1)[v.key].bufferedAfter
      })
      out.allStored = out.dropped === 0 && out.failedBatches === 0 && written === served &&
        (out.live ?? served) === served &&
        out.logsOk && out.leftBuffered === 0
    }
    variants[v.key] = out
  }
  const one = variants.oneUser
  const many = variants.thousandUsers
  const zipfv = variants.zipfUsers
  const lower = (target) => (x) => x <= target
  const higher = (target) => (x) => x >= target
  // At a fixed rate every variant serves the same requests/s: the throughput goals do not apply.
  const saturated = (check) => RATE === null ? check : null
  // The least CPU per request each variant used in any round, minus bare's least: the other work
  // of a shared machine only ever adds to a round's figure, so the least is the cost the least
  // disturbed by it (the paired median above keeps every round).
  const floor = (v) => v.cpuPerRequest.min - variants.bare.cpuPerRequest.min
  const results = [
    goal('added CPU per logged request, 1 user', one.addedCpuPerRequest, 'µs',
      `≤ ${GOALS.addedCpuOne}`, lower(GOALS.addedCpuOne)),
    goal('added CPU per logged request, 1,000 users', many.addedCpuPerRequest, 'µs',
      `≤ ${GOALS.addedCpuMany}`, lower(GOALS.addedCpuMany)),
    goal('added CPU per logged request, Zipf 10,000 users', zipfv.addedCpuPerRequest, 'µs',
      `≤ ${GOALS.addedCpuMany}`, lower(GOALS.addedCpuMany)),
    goal('added CPU per logged request, least round − bare\'s least (1 user / 1,000 / Zipf 10,000; ' +
      'Fastify logger: true)', [one, many, zipfv, variants.logger].map((v) => round(floor(v), 1)).join(' / '),
    'µs', '', null),
    goal('added CPU of Fastify logger: true (for comparison)', variants.logger.addedCpuPerRequest, 'µs', '', null),
    goal('plugin ÷ logger: true added CPU, 1 user', one.vsLogger, '',
      `≤ ${GOALS.vsLogger}`, lower(GOALS.vsLogger)),
    goal('plugin ÷ logger: true added CPU, 1,000 users', many.vsLogger, '',
      `≤ ${GOALS.vsLogger}`, lower(GOALS.vsLogger)),
    goal('plugin ÷ logger: true added CPU, Zipf 10,000 users', zipfv.vsLogger, '',
      `≤ ${GOALS.vsLogger}`, lower(GOALS.vsLogger)),
    goal('Redis CPU per logged entry, 1 user', one.redisCpuPerEntry, 'µs',
      `≤ ${GOALS.redisCpuOne}`, lower(GOALS.redisCpuOne)),
    goal('Redis CPU per logged entry, 1,000 users', many.redisCpuPerEntry, 'µs',
      `≤ ${GOALS.redisCpuMany}`, lower(GOALS.redisCpuMany)),
    goal('Redis CPU per logged entry, Zipf 10,000 users', zipfv.redisCpuPerEntry, 'µs',
      `≤ ${GOALS.redisCpuMany}`, lower(GOALS.redisCpuMany)),
    goal('throughput ratio vs bare, 1 user', one.throughputRatio, '',
      RATE === null ? `≥ ${GOALS.ratioOne}` : '', saturated(higher(GOALS.ratioOne))),
    goal('throughput ratio vs bare, 1,000 users', many.throughputRatio, '',
      RATE === null ? `≥ ${GOALS.ratioMany}` : '', saturated(higher(GOALS.ratioMany))),
    goal('throughput ratio vs bare, Zipf 10,000 users', zipfv.throughputRatio, '', '', null),
    goal('top-level Redis commands per logged request, 1 user', one.topLevelCommandsPerRequest, '',
      `≤ ${GOALS.commandsPerRequest}`, lower(GOALS.commandsPerRequest), 4),
    goal('top-level Redis commands per logged request, 1,000 users', many.topLevelCommandsPerRequest, '',
      `≤ ${GOALS.commandsPerRequest}`, lower(GOALS.commandsPerRequest), 4),
    goal('top-level Redis commands per logged request, Zipf 10,000 users', zipfv.topLevelCommandsPerRequest, '',
      `≤ ${GOALS.commandsPerRequest}`, lower(GOALS.commandsPerRequest), 4),
    ...[one, many, zipfv].map((v) => goal(
      `entries stored / requests served, ${v.label.replace('fastify-userlog, ', '')}`,
      stored(v) / v.served, '', '= 1 (all stored)', () => v.allStored, 4)),
    // The server, Redis and the load generator share the machine's cores: what each one used.
    ...[variants.bare, one, many, zipfv].map((v) => goal(
      `share of one core used, ${v.label.replace('fastify-userlog, ', '')}: server / load generator / Redis / other`,
      shares(v), '%', '', null))
  ]
  return {
    benchmark: (opt.cluster ? 'overhead-cluster' : 'overhead') + (opt.load === 'wrk' ? '-wrk' : '') +
      (WATCH_ALL ? '-watch-all' : '') + (RATE === null ? '' : `-${RATE}-per-s`),
    title: `Host overhead of the request hook (load: ${opt.load}` +
      `${RATE === null ? ', saturating' : `, ${RATE} requests/s`}) on ` +
      `${opt.cluster ? 'a three-node Redis Cluster' : 'one Redis node'}` +
      `${WATCH_ALL ? ', all-users stream watched' : ', nobody watching'} ` +
      '(server CPU, throughput, Redis CPU and commands, entries stored)',
    machine: m,
    settings: {
      plugin: PLUGIN,
      compare: COMPARE,
      rounds: ROUNDS,
      durationSeconds: DURATION,
      warmupSeconds: WARMUP,
      connections: CONNECTIONS,
      pipelining: 1,
      maxEntries: MAX_ENTRIES,
      watchAll: WATCH_ALL,
      rate: RATE
    },
    results,
    variants,
    rounds
  }
}

/** A figure for the summary table: a number, or a per-round summary (its median, with min–max as the spread). */
function goal (name, figure, unit, target, check, digits = 2) {
  const perRound = typeof figure === 'object'
  const value = perRound ? figure.median : figure
  const spread = perRound ? `${round(figure.min, digits)}–${round(figure.max, digits)}` : undefined
  const meets = check !== null && Boolean(check(value))
  // A median that meets the goal while some round misses it is not a finding: said so, not 'pass'.
  const everyRound = !perRound || (meets && check(figure.min) && check(figure.max))
  const pass = check === null ? null : !meets ? false : everyRound ? true : null
  const verdict = check === null ? '' : !meets ? 'MISS' : everyRound ? 'pass' : 'inside spread'
  const shown = typeof value === 'number' ? round(value, digits) : value
  return { name, value: shown, spread, unit, goal: target, pass, verdict }
}

/** The median share of one core each process used during a variant's windows, in percent. */
const shares = (v) => [v.serverBusy, v.loadGeneratorBusy, v.redisBusy, v.otherBusy]
  .map((s) => Math.max(0, Math.round(100 * s.median))).join(' / ')

/** Entries counted as stored: the writer's count, and the live channel's when it was watched. */
const stored = (v) => Math.min(v.written, v.live ?? v.written)

const fmt = (x, d = 1) => Number.isFinite(x) ? x.toFixed(d) : String(x)
const range = (s, d = 1) => `${fmt(s.median, d)} (${fmt(s.min, d)}–${fmt(s.max, d)})`

function print (res) {
  const rows = [
    [
      'variant', 'req/s', 'server CPU µs/req', 'of which kernel', 'added CPU µs/req vs bare', 'vs empty hook',
      'throughput ratio', 'CPU capacity ratio', 'Redis cmds/req top-level', 'Redis cmds/req executed',
      'Redis CPU µs/entry', 'entries stored / served'
    ]
  ]
  for (const v of Object.values(res.variants)) {
    rows.push([
      v.label,
      fmt(v.rps.median, 0),
      range(v.cpuPerRequest),
      fmt(v.cpuSystemPerRequest.median),
      v.addedCpuPerRequest ? range(v.addedCpuPerRequest) : '—',
      v.addedCpuVsEmptyHook ? range(v.addedCpuVsEmptyHook) : '—',
      v.throughputRatio ? range(v.throughputRatio, 3) : '1',
      v.cpuCapacityRatio ? fmt(v.cpuCapacityRatio.median, 3) : '1',
      fmt(v.topLevelCommandsPerRequest, 4),
      fmt(v.executedCommandsPerRequest, 3),
      v.redisCpuPerEntry ? range(v.redisCpuPerEntry) : fmt(v.redisCpuPerRequest, 1),
      v.written === undefined ? '—' : `${stored(v)} / ${v.served}${v.allStored ? ' ✓' : ' ✗'}`
    ])
  }
  console.log('')
  console.log(markdownTable(rows))
  console.log('\nmedian over rounds (min–max); per-request Redis figures and entry counts are totals over all rounds')
  const pc = (s) => `${Math.max(0, Math.round(100 * s.median))}%`
  console.log('share of one core used during the load (median): ' + Object.values(res.variants).map((v) =>
    `${v.label}: server ${pc(v.serverBusy)}, load generator ${pc(v.loadGeneratorBusy)}, ` +
    `Redis ${pc(v.redisBusy)}, other ${pc(v.otherBusy)}`).join(' · '))
  const other = Math.max(...Object.values(res.variants).map((v) => v.otherBusy.median))
  if (other > 0.3) {
    console.log(`note: up to ${Math.round(100 * other)}% of a core went to other work during the windows: ` +
      'req/s are noisy; the CPU µs figures hold better')
  }
  for (const v of Object.values(res.variants)) {
    if (v.written === undefined) continue
    const capped = v.logCapped
      ? ` (${v.logCapped} windows filled a log to maxEntries ${MAX_ENTRIES}: checked it holds exactly that)`
      : ''
    console.log(`${v.label}: served ${v.served}, written (stats) ${v.written}, ` +
      `on the live channel ${v.live ?? '— (not watched)'}, ` +
      `in the logs ${v.inLogs}${capped}, logs check ${v.logsOk ? 'ok' : 'FAILED'}, dropped ${v.dropped}, ` +
      `batches ${v.batches} (${fmt(v.entriesPerBatch, 1)} entries each), failed ${v.failedBatches},\n  ` +
      `top-level commands sent ${JSON.stringify(v.topLevelByName)}, ` +
      `evalsha+eval calls seen by Redis ${v.scriptCallsSeenByRedis}, ` +
      `commands executed by Redis (incl. inside the script) ${JSON.stringify(v.executedByName)}`)
  }
  console.log('')
  console.log(markdownTable([['goal', 'figure', 'target', ''], ...res.results.map((g) => [
    g.name,
    `${g.value}${g.unit ? ' ' + g.unit : ''}${g.spread ? ` (${g.spread})` : ''}`,
    g.goal || '—',
    g.verdict
  ])]))
  console.log(`\n${res.settings.rounds} rounds × ${res.settings.durationSeconds} s, ` +
    `${res.settings.connections} connections, pipelining 1; run took ${res.seconds} s`)
  console.log(`machine: ${machineLine(res.machine)}`)
  if (res.profiles) {
    console.log('\nCPU profiles of the measured windows ' +
      '(the profiler slows the servers: the table above is from the same run)')
    for (const p of res.profiles) console.log(`\n## ${p.variant}: ${p.file}\n${p.text}`)
  }
}

export function markdownTable (rows) {
  const [head, ...body] = rows
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...body.map((r) => `| ${r.join(' | ')} |`)
  ].join('\n')
}

function profiles (dir, rounds) {
  const served = (key) => rounds.reduce((s, r) => s + r[key].served, 0)
  const load = (key) => {
    const file = join(dir, `${key}.cpuprofile`)
    return existsSync(file) ? { file, a: loadProfile(file), requests: served(key) } : null
  }
  const bare = load('bare')
  const perReq = (map, requests) => new Map([...map].map(([k, us]) => [k, us / requests]))
  const us = (x) => `${x.toFixed(2).padStart(6)} µs/req`
  const out = []
  for (const v of VARIANTS) {
    const p = load(v.key)
    if (p === null) continue
    const lines = [profileReport(p.a, p.requests, 15)]
    if (v.prefix) {
      lines.push('fastify-userlog functions (inclusive: the function and what it calls):')
      const inclusive = [...p.a.inclusive].filter(([k]) => isPluginFrame(k)).sort((x, y) => y[1] - x[1])
      for (const [k, t] of inclusive.slice(0, 15)) {
        lines.push(`  ${us(t / p.requests)}  ${k}`)
      }
    }
    if (bare !== null && v.key !== 'bare') {
      for (const [title, field] of [['area', 'byArea'], ['function', 'byFunction']]) {
        const mine = perReq(p.a[field], p.requests)
        const theirs = perReq(bare.a[field], bare.requests)
        const diff = [...new Set([...mine.keys(), ...theirs.keys()])]
          .filter((k) => !k.startsWith('(idle)') && k !== 'idle')
          .map((k) => [k, (mine.get(k) ?? 0) - (theirs.get(k) ?? 0)]).sort((x, y) => y[1] - x[1])
        lines.push(`self time more than bare, by ${title}:`)
        for (const [k, d] of diff.slice(0, title === 'area' ? 10 : 20)) {
          lines.push(`  ${d >= 0 ? '+' : ''}${us(d)}  ${k}`)
        }
      }
    }
    out.push({ variant: v.label, file: p.file, text: lines.join('\n') })
  }
  return out
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().then((code) => { process.exitCode = code }, (err) => {
    console.error(err)
    process.exitCode = 2
  })
}
