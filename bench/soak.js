#!/usr/bin/env node
// Soak: a long run that shows whether the host's and the realtime server's memory grows.
//
//   npm run build && node bench/soak.js [--minutes 10] [--users 1000] [--viewers 20] [--rate 300] [--json]
//                                       [--quick (3 minutes)] [--heap-snapshots DIR (of both servers, at the end)]
//
// Three processes besides this one: a private redis-server (append-only file fsynced on every
// write, so that its restart loses nothing it acknowledged), a host app with the plugin
// (bench/lib/server.js, dist/) and the realtime server (dist/cli/main.js). This process is
//   - the load: `--rate` requests/s, round-robin over `--users` distinct users, keep-alive HTTP;
//   - `--viewers` viewers, each watching a random user for 20–60 s, then leaving for a new one;
//   - halfway through, Redis is killed (SIGKILL) and restarted on the same port.
// Each request's query carries the time it was sent (performance.now() of this process, the same
// clock as the viewers' receipt), so every live entry gives the latency from request to viewer.
// Every minute it prints both servers' heap used (after a full GC, asked over IPC through
// bench/lib/memory-probe.js) and RSS, the entries stored (the users' log lengths) ÷ served, and
// that minute's live latency; at the end the growth from minute 2, its least-squares slope, and
// each process's CPU time (/proc/<pid>/stat).
import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { WebSocket } from 'ws'
import { Keys } from '../dist/shared/keys.js'
import { startRedis } from './lib/redis.js'
import { keys, startRealtime, stopChild } from './lib/realtime.js'
import { askChild, probeExecArgv } from './lib/memory-probe.js'
import { cpuSeconds } from './lib/proc.js'
import { quantile, round, slope } from './lib/stats.js'
import { machine, machineLine, printResults } from './lib/machine.js'

const { values: opt } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    users: { type: 'string', default: '1000' },
    viewers: { type: 'string', default: '20' },
    rate: { type: 'string', default: '300' },
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    'heap-snapshots': { type: 'string' }
  }
})
const MINUTES = opt.quick ? 3 : Number(opt.minutes)
const USERS = Number(opt.users)
const VIEWERS = Number(opt.viewers)
const RATE = Number(opt.rate)
const TICK_MS = 10
const WATCH_MS = [20_000, 60_000]
const log = opt.json ? console.error : console.log
const SERVER = fileURLToPath(new URL('./lib/server.js', import.meta.url))
const MiB = 2 ** 20

const userName = (i) => `customer${i}@example.com`
// The plugin's own key names: a user name with '@' is encoded in its keys.
const userlogKeys = new Keys('userlog')

/** The host app with the plugin in its own process; resolves with it and its port. */
async function startHost (redisUrl) {
  const proc = fork(SERVER, ['plugin', redisUrl, 'userlog'], {
    execArgv: probeExecArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc']
  })
  const port = await new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`the host exited (${code}); is dist/ built? (npm run build)`)))
    proc.on('message', (msg) => { if (msg.type === 'ready') resolve(msg.port) })
  })
  return { proc, port }
}

/** Steady load: RATE requests/s over USERS users, until stop(). */
function startLoad (port, counters) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 })
  let seq = 0
  let stopped = false
  const inFlight = new Set()
  const send = () => {
    const user = userName(seq % USERS)
    const path = `/hello?n=${seq}&sent=${performance.now().toFixed(3)}`
    seq++
    const p = new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path, agent, headers: { 'x-user': user } }, (res) => {
        res.resume()
        res.on('end', () => { if (res.statusCode === 200) counters.ok++; else counters.failed++; resolve() })
      })
      req.on('error', () => { counters.failed++; resolve() })
    })
    inFlight.add(p)
    p.finally(() => inFlight.delete(p))
  }
  const done = (async () => {
    const start = performance.now()
    while (!stopped) {
      const due = Math.floor(((performance.now() - start) / 1000) * RATE)
      while (seq < due) send()
      await sleep(TICK_MS)
    }
    await Promise.all([...inFlight])
    agent.destroy()
  })()
  return { stop: async () => { stopped = true; await done }, sent: () => seq }
}

/** The live latency of one entry, from its request's `sent` query parameter. */
function latencyOf (entry, now) {
  const m = typeof entry.path === 'string' ? /[?&]sent=([\d.]+)/.exec(entry.path) : null
  return m === null ? NaN : now - Number(m[1])
}

/** One viewer at a time in one slot: watches a random user for 20–60 s, leaves, and a new one comes. */
async function viewerSlot (wsUrl, db, live, isStopped) {
  while (!isStopped()) {
    const user = userName(Math.floor(Math.random() * USERS))
    const token = randomBytes(18).toString('base64url')
    try {
      await db.set(keys.token(token), JSON.stringify({ user, admin: 'soak' }), 'EX', 60)
    } catch {
      live.retries++ // Redis is restarting: try again shortly
      await sleep(1000)
      continue
    }
    const ws = new WebSocket(wsUrl, { perMessageDeflate: false })
    const closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)))
    let streaming = false
    ws.on('message', (data) => {
      const now = performance.now()
      const msg = JSON.parse(data.toString())
      if (msg.type === 'backlog') { streaming = true; live.sessions++ }
      if (msg.type === 'entries') {
        for (const e of msg.entries) {
          const ms = latencyOf(e, now)
          if (Number.isFinite(ms)) { live.minute.push(ms); live.all.push(ms) }
        }
      }
      if (msg.type === 'dropped') live.dropped += msg.count
    })
    ws.on('error', () => {})
    ws.once('open', () => ws.send(JSON.stringify({ token })))
    const stay = WATCH_MS[0] + Math.random() * (WATCH_MS[1] - WATCH_MS[0])
    const until = performance.now() + stay
    const code = await Promise.race([closed, (async () => {
      while (!isStopped() && performance.now() < until) await sleep(250)
      return null
    })()])
    if (code === null) {
      ws.close(1000)
      await Promise.race([closed, sleep(2000)])
      ws.terminate()
    } else {
      // Closed by the server (or never streamed): counted, and a new viewer takes the slot.
      if (streaming) live.closedEarly++
      else live.refused++
      await sleep(500)
    }
  }
}

/** Entries stored so far: the sum of every user's log length. */
async function storedEntries (db) {
  const p = db.pipeline()
  for (let i = 0; i < USERS; i++) p.llen(userlogKeys.log(userName(i)))
  const out = await p.exec()
  let sum = 0
  for (const [err, n] of out) {
    if (err !== null) throw err
    sum += n
  }
  return sum
}

async function realtimeMetric (httpUrl, name) {
  const text = await (await fetch(`${httpUrl}/metrics`)).text()
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
}

const mib = (bytes) => round(bytes / MiB, 1)
const pct = (x) => round(100 * x, 1)

/** Growth from the second sample to the last, and the least-squares slope per minute, of `values`. */
function trend (minutes, values) {
  const from = minutes.findIndex((m) => m >= 2)
  const xs = minutes.slice(from === -1 ? 0 : from)
  const ys = values.slice(from === -1 ? 0 : from)
  const first = ys[0]
  const last = ys[ys.length - 1]
  const perMinute = slope(xs, ys)
  return { first, last, growth: (last - first) / first, slopePerMinute: perMinute, slopeShare: perMinute / first }
}

async function main () {
  const redis = await startRedis({ persistent: true })
  const db = redis.client()
  let host = null
  let realtime = null
  let stopped = false
  const slots = []
  const redisCpuBefore = [] // CPU seconds of redis-server processes killed by the restart
  try {
    host = await startHost(redis.url)
    realtime = await startRealtime(redis.url, { execArgv: probeExecArgv, ipc: true })
    const wall0 = performance.now()
    const cpu0 = {
      host: cpuSeconds(host.proc.pid),
      realtime: cpuSeconds(realtime.proc.pid),
      redis: cpuSeconds(redis.pid),
      bench: process.cpuUsage()
    }
    log(`soak: ${MINUTES} min, ${RATE} req/s over ${USERS} users, ${VIEWERS} viewers of 20–60 s, ` +
      'one Redis restart halfway')
    log(`Machine: ${machineLine(machine())}`)

    const counters = { ok: 0, failed: 0 }
    const load = startLoad(host.port, counters)
    const live = { minute: [], all: [], sessions: 0, closedEarly: 0, refused: 0, retries: 0, dropped: 0 }
    await db.ping() // connected before the viewers' first commands
    // While Redis restarts, each viewer slot's waiting command adds a listener to the client.
    db.setMaxListeners(VIEWERS + 10)
    for (let i = 0; i < VIEWERS; i++) {
      slots.push(viewerSlot(realtime.ws, db, live, () => stopped))
      await sleep(100)
    }

    const restartAt = MINUTES * 60_000 / 2
    let restart = null
    const samples = []
    log('| min | host heap MiB | host RSS MiB | realtime heap MiB | realtime RSS MiB | stored ÷ served | ' +
      'live p99 ms (entries) | viewers |')
    log('|---:|---:|---:|---:|---:|---|---:|---:|')
    for (let minute = 1; minute <= MINUTES; minute++) {
      while (performance.now() - wall0 < minute * 60_000) {
        if (restart === null && performance.now() - wall0 >= restartAt) {
          const t = performance.now()
          redisCpuBefore.push(cpuSeconds(redis.pid))
          await redis.restart()
          restart = { atSeconds: round((t - wall0) / 1000, 0), downMs: round(performance.now() - t, 0) }
          log(`  redis-server killed and restarted at ${restart.atSeconds} s: answering PING again after ` +
            `${restart.downMs} ms`)
        }
        await sleep(200)
      }
      const stored = await storedEntries(db).catch(() => NaN)
      const snap = await askChild(host.proc, 'snap', { flush: false })
      const hostMem = (await askChild(host.proc, 'memory')).memory
      const rtMem = (await askChild(realtime.proc, 'memory')).memory
      const viewers = await realtimeMetric(realtime.http, 'userlog_realtime_viewers').catch(() => NaN)
      const lat = live.minute
      live.minute = []
      const s = {
        minute,
        host: hostMem,
        realtime: rtMem,
        stored,
        served: snap.served,
        p99: quantile(lat, 0.99),
        entries: lat.length,
        viewers
      }
      samples.push(s)
      log(`| ${minute} | ${mib(hostMem.heapUsed)} | ${mib(hostMem.rss)} | ${mib(rtMem.heapUsed)} | ` +
        `${mib(rtMem.rss)} | ${stored} ÷ ${snap.served} | ${round(s.p99, 1)} (${lat.length}) | ${viewers} |`)
    }

    await load.stop()
    stopped = true
    await Promise.all(slots)
    const wallSeconds = (performance.now() - wall0) / 1000
    const final = await askChild(host.proc, 'snap', { flush: true })
    const stored = await storedEntries(db)
    const dropped = await realtimeMetric(realtime.http, 'userlog_realtime_entries_dropped_total')
    const cpuOf = (pid, before) => cpuSeconds(pid) - before
    const benchCpu = process.cpuUsage(cpu0.bench)
    const cpu = {
      host: cpuOf(host.proc.pid, cpu0.host),
      realtime: cpuOf(realtime.proc.pid, cpu0.realtime),
      redis: cpuSeconds(redis.pid) + redisCpuBefore.reduce((a, b) => a + b, 0) - cpu0.redis,
      bench: (benchCpu.user + benchCpu.system) / 1e6
    }

    const minutes = samples.map((s) => s.minute)
    const trends = {
      'host heap used': trend(minutes, samples.map((s) => s.host.heapUsed)),
      'host RSS': trend(minutes, samples.map((s) => s.host.rss)),
      'realtime heap used': trend(minutes, samples.map((s) => s.realtime.heapUsed)),
      'realtime RSS': trend(minutes, samples.map((s) => s.realtime.rss))
    }
    const cores = machine().cores
    const results = []
    for (const [name, t] of Object.entries(trends)) {
      results.push({
        name: `${name}, minute 2 → end`,
        value: pct(t.growth),
        unit: '%',
        goal: '< 10',
        pass: t.growth < 0.1,
        spread: `${mib(t.first)} → ${mib(t.last)} MiB`
      })
      results.push({
        name: `${name}, least-squares slope`,
        value: round(t.slopePerMinute / MiB, 3),
        unit: 'MiB/min',
        goal: '',
        pass: null,
        spread: `${round(100 * t.slopeShare, 2)} % of minute 2 per minute`
      })
    }
    const served = final.served
    results.push(
      {
        name: 'requests sent / answered 200 / failed',
        value: `${load.sent()} / ${counters.ok} / ${counters.failed}`,
        unit: '',
        goal: '',
        pass: null
      },
      {
        name: 'entries stored ÷ requests served',
        value: `${stored} ÷ ${served}`,
        unit: '',
        goal: 'all',
        pass: stored === served
      },
      {
        name: 'plugin: written / dropped / failed batches',
        value: `${final.stats.written} / ${final.stats.dropped} / ${final.stats.failedBatches}`,
        unit: '',
        goal: '',
        pass: null
      },
      {
        name: 'live latency p50 / p99 / max',
        value: [0.5, 0.99, 1].map((q) => round(quantile(live.all, q), 1)).join(' / '),
        unit: 'ms',
        goal: '',
        pass: null
      },
      { name: 'live entries received', value: live.all.length, unit: '', goal: '', pass: null },
      {
        name: 'viewer sessions / closed by the server / refused',
        value: `${live.sessions} / ${live.closedEarly} / ${live.refused}`,
        unit: '',
        goal: '',
        pass: null
      },
      { name: 'realtime entries dropped (slow viewers)', value: dropped, unit: '', goal: '0', pass: dropped === 0 },
      {
        name: 'Redis restart: at / back after',
        value: restart === null ? 'none' : `${restart.atSeconds} s / ${restart.downMs} ms`,
        unit: '',
        goal: '',
        pass: null
      }
    )
    for (const [name, seconds] of Object.entries(cpu)) {
      results.push({
        name: `CPU of ${name === 'bench' ? 'this process (load + viewers)' : name}`,
        value: round(seconds, 1),
        unit: 's',
        goal: '',
        pass: null,
        spread: `${pct(seconds / wallSeconds)} % of one core, ${pct(seconds / wallSeconds / cores)} % of ${cores}`
      })
    }
    const title = `Soak, ${MINUTES} min: ${RATE} req/s over ${USERS} users, ${VIEWERS} viewers, one Redis restart`
    const rows = results.map((r) => ({ ...r, name: r.spread ? `${r.name} (${r.spread})` : r.name }))
    printResults({ benchmark: 'soak', title, results: opt.json ? results : rows, json: opt.json, extra: { samples } })
    if (opt['heap-snapshots'] !== undefined) {
      const dir = opt['heap-snapshots']
      for (const [name, proc] of [['host', host.proc], ['realtime', realtime.proc]]) {
        const { file } = await askChild(proc, 'heap-snapshot', { file: `${dir}/${name}-end.heapsnapshot` }, 120_000)
        log(`heap snapshot of the ${name}: ${file}`)
      }
    }
  } finally {
    stopped = true
    if (host !== null) await stopChild(host.proc)
    if (realtime !== null) await stopChild(realtime.proc)
    db.disconnect()
    await redis.stop()
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 2
})
