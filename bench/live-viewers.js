#!/usr/bin/env node
// Many viewers on one realtime process: 10,000 idle viewers (memory, Redis connections), then a
// fan-out of 100 entries/s to 1,000 viewers of one user (delivery, drops, latency).
//
//   npm run build && node bench/live-viewers.js [--quick] [--json] [--viewers 10000] [--hot 1000] [--seconds 10]
//
// Each of the two processes (this one with the viewers, the realtime server) needs a file
// descriptor per socket: when the open-file limit is too low the script re-runs itself under
// `bash -c 'ulimit -n <hard limit>; …'` (raise the hard limit, e.g. in limits.conf, if even that is
// too low). The realtime server is dist/cli/main.js in its own process, as in production.
import { spawn, execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { WebSocket } from 'ws'
import { startRedis } from './lib/redis.js'
import { quantile, round } from './lib/stats.js'
import { printResults } from './lib/machine.js'
import { keys, startRealtime, stopChild } from './lib/realtime.js'

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    viewers: { type: 'string' },
    hot: { type: 'string' },
    seconds: { type: 'string' }
  }
})
const TOTAL = Number(opt.viewers ?? (opt.quick ? 2000 : 10_000))
const HOT = Math.min(TOTAL, Number(opt.hot ?? 1000))
const SECONDS = Number(opt.seconds ?? (opt.quick ? 3 : 10))
const RATE = 100
const PER_USER = 10 // the idle viewers watch TOTAL-HOT / 10 other users, ten viewers each
const log = opt.json ? console.error : console.log
const self = fileURLToPath(import.meta.url)

// Sockets of this process and of the realtime server, plus some headroom.
const NEEDED_FDS = TOTAL + 1000
function openFileLimit () {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8')
    const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(limits)
    const count = (s) => s === 'unlimited' ? Infinity : Number(s)
    if (m !== null) return { soft: count(m[1]), hard: count(m[2]) }
  } catch {
    // no /proc: ask the shell
  }
  try {
    const ulimit = (flag) => Number(execFileSync('bash', ['-c', `ulimit ${flag}`], { encoding: 'utf8' }))
    return { soft: ulimit('-n'), hard: ulimit('-Hn') }
  } catch {
    return { soft: Infinity, hard: Infinity }
  }
}

function rssMiB (pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? NaN : round(Number(m[1]) / 1024, 1)
}

async function metrics (http) {
  const text = await (await fetch(`${http}/metrics`)).text()
  const out = {}
  for (const line of text.split('\n')) {
    const m = /^(\w+(?:\{[^}]*\})?) (\S+)$/.exec(line)
    if (m !== null) out[m[1]] = Number(m[2])
  }
  return out
}

/** Connects one viewer of `user`; `stats` collects what hot viewers receive. */
async function connect (url, token, stats) {
  const ws = new WebSocket(url, { perMessageDeflate: false })
  await new Promise((resolve, reject) => {
    let streaming = false
    ws.on('message', (data) => {
      const now = performance.now()
      const msg = JSON.parse(data.toString())
      if (msg.type === 'backlog') { streaming = true; resolve() }
      if (stats !== null && msg.type === 'entries') {
        for (const e of msg.entries) if (typeof e.sent === 'number') stats.latency.push(now - e.sent)
        stats.received += msg.entries.length
      }
      if (stats !== null && msg.type === 'dropped') stats.dropped += msg.count
    })
    ws.once('close', (code) => { if (!streaming) reject(new Error(`viewer closed with ${code}`)) })
    ws.once('error', reject)
    ws.once('open', () => ws.send(JSON.stringify({ token })))
  })
  return ws
}

async function main () {
  const redis = await startRedis()
  const db = redis.client()
  let server = null
  const sockets = []
  try {
    server = await startRealtime(redis.url)
    await sleep(300)
    const rssStart = rssMiB(server.proc.pid)

    // Who watches whom: HOT viewers of "hot", the rest ten per user.
    const plan = []
    for (let i = 0; i < HOT; i++) plan.push('hot')
    for (let i = 0; i < TOTAL - HOT; i++) plan.push(`user${Math.floor(i / PER_USER)}`)
    const tokens = plan.map(() => randomBytes(18).toString('base64url'))
    for (let i = 0; i < plan.length; i += 1000) {
      const m = db.multi()
      for (let k = i; k < Math.min(plan.length, i + 1000); k++) {
        m.set(keys.token(tokens[k]), JSON.stringify({ user: plan[k], admin: 'bench' }), 'EX', 300)
      }
      await m.exec()
    }
    const stats = { received: 0, dropped: 0, latency: [] }
    const started = performance.now()
    for (let i = 0; i < plan.length; i += 200) {
      const chunk = []
      for (let k = i; k < Math.min(plan.length, i + 200); k++) {
        chunk.push(connect(server.ws, tokens[k], plan[k] === 'hot' ? stats : null))
      }
      sockets.push(...await Promise.all(chunk))
      if (i % 2000 === 0) log(`  ${sockets.length} viewers…`)
    }
    const connectSeconds = (performance.now() - started) / 1000
    await sleep(1000)
    if (typeof globalThis.gc === 'function') globalThis.gc()
    const idle = await metrics(server.http)
    const rssIdle = rssMiB(server.proc.pid)
    const clientList = await db.client('LIST')
    const redisConnections = clientList.split('\n').filter((l) => /name=userlog-realtime/.test(l)).length
    log(`${sockets.length} viewers connected in ${round(connectSeconds, 1)} s; ` +
      `fan-out of ${RATE} entries/s to ${HOT} viewers for ${SECONDS} s…`)

    // Fan-out: RATE entries/s to "hot", in batches of 10 every 100 ms, written as the plugin does.
    const total = RATE * SECONDS
    let seq = 0
    const t0 = performance.now()
    for (let written = 0; written < total;) {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * RATE))
      if (due > written) {
        const batch = []
        for (; written < due; written++) {
          seq++
          batch.push(JSON.stringify({
            id: `h${seq}`, t: Date.now(), user: 'hot', kind: 'request', method: 'GET', path: `/p/${seq}`, status: 200,
            ms: 1, sent: performance.now()
          }))
        }
        const payload = `[${batch.join(',')}]`
        db.multi().lpush(keys.log('hot'), ...batch).ltrim(keys.log('hot'), 0, 99)
          .publish(keys.channel('hot'), payload).publish(keys.all, payload).exec().catch(() => {})
      }
      await sleep(100)
    }
    const expected = total * HOT
    for (let i = 0; i < 200 && stats.received + stats.dropped < expected; i++) await sleep(50)
    const after = await metrics(server.http)
    const rssFanout = rssMiB(server.proc.pid)

    const latency = (q) => round(quantile(stats.latency, q), 1)
    const results = [
      {
        name: 'viewers connected', value: sockets.length, unit: '', goal: `= ${TOTAL}`,
        pass: sockets.length === TOTAL
      },
      { name: 'channels subscribed', value: idle.userlog_realtime_channels, unit: '', goal: '', pass: null },
      {
        name: 'Redis connections of the realtime process', value: redisConnections, unit: '', goal: '= 2',
        pass: redisConnections === 2
      },
      { name: 'time to connect every viewer', value: round(connectSeconds, 1), unit: 's', goal: '', pass: null },
      { name: 'server RSS, no viewers', value: rssStart, unit: 'MiB', goal: '', pass: null },
      { name: `server RSS, ${TOTAL} idle viewers`, value: rssIdle, unit: 'MiB', goal: '', pass: null },
      {
        name: 'server memory per idle viewer', value: round((rssIdle - rssStart) * 1024 / TOTAL, 1), unit: 'KiB',
        goal: '', pass: null
      },
      {
        name: `fan-out: entries to ${HOT} viewers`, value: stats.received, unit: '', goal: `= ${expected}`,
        pass: stats.received === expected
      },
      {
        name: 'fan-out: entries dropped', value: after.userlog_realtime_entries_dropped_total, unit: '', goal: '0',
        pass: after.userlog_realtime_entries_dropped_total === 0
      },
      { name: 'fan-out: latency p50', value: latency(0.5), unit: 'ms', goal: '', pass: null },
      { name: 'fan-out: latency p99', value: latency(0.99), unit: 'ms', goal: '', pass: null },
      { name: 'server RSS after the fan-out', value: rssFanout, unit: 'MiB', goal: '', pass: null }
    ]
    const title = `${TOTAL} idle viewers on one process; ${RATE} entries/s to ${HOT} viewers`
    printResults({ benchmark: 'live-viewers', title, results, json: opt.json })
  } finally {
    for (const ws of sockets) ws.terminate()
    if (server !== null) await stopChild(server.proc)
    db.disconnect()
    await redis.stop()
  }
}

const limit = openFileLimit()
if (limit.soft < NEEDED_FDS && process.env.USERLOG_BENCH_ULIMIT !== '1') {
  if (limit.hard < NEEDED_FDS) {
    console.error(`live-viewers needs about ${NEEDED_FDS} open files per process; the hard limit is ${limit.hard}. ` +
      'Raise it (limits.conf, or `ulimit -Hn` as root) or pass --viewers with a smaller number.')
    process.exit(1)
  }
  // Re-run under a raised soft limit; the realtime server, a child, inherits it.
  const script = 'ulimit -n "$(ulimit -Hn)" && exec "$0" "$@"'
  const child = spawn('bash', ['-c', script, process.execPath, self, ...process.argv.slice(2)],
    { stdio: 'inherit', env: { ...process.env, USERLOG_BENCH_ULIMIT: '1' } })
  child.on('exit', (code, signal) => { process.exitCode = code ?? (signal ? 1 : 0) })
} else {
  main().catch((err) => {
    console.error(err)
    process.exitCode = 1
  })
}
