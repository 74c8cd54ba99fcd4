#!/usr/bin/env node
// Live latency: from PUBLISH to a viewer's receipt, at 1,000 entries/s, 100 viewers of one user.
// With --plugin, from a request to a host app with the plugin to the viewer's receipt of its entry:
// the whole path (the hook, the writer's batching, the write script's PUBLISH, the realtime
// server), while --others requests a second of 1,000 other users, whom nobody watches, go to the
// same host.
//
//   npm run build && node bench/live-latency.js [--quick] [--json] [--rate 1000] [--viewers 100] [--seconds 10]
//     [--plugin [--others 2000]]
//
// Starts a private redis-server and the realtime server (dist/cli/main.js, its own process, as in
// production); this process is the writer and the viewers. The writer writes as the plugin does
// (LPUSH + LTRIM + PUBLISH on the user's and the all-users channel, in one MULTI), every 5 ms, the
// entries due by then; each entry carries the time it was sent (performance.now(), the same clock
// as the receipt, since writer and viewers share this process). Prints p50 / p99 / max per entry.

import { randomBytes } from 'node:crypto'
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { setTimeout as sleep } from 'node:timers/promises'
import { WebSocket } from 'ws'
import { startRedis } from './lib/redis.js'
import { BROWSER_UA as UA } from './lib/users.js'
import { quantile, round } from './lib/stats.js'
import { printResults } from './lib/machine.js'
import { keys, startRealtime, stopChild } from './lib/realtime.js'

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    rate: { type: 'string', default: '1000' },
    viewers: { type: 'string', default: '100' },
    seconds: { type: 'string' },
    plugin: { type: 'boolean', default: false },
    others: { type: 'string', default: '2000' }
  }
})
const RATE = Number(opt.rate)
const VIEWERS = Number(opt.viewers)
const SECONDS = Number(opt.seconds ?? (opt.quick ? 3 : 10))
const TICK_MS = 5
const USER = 'alice'
const log = opt.json ? console.error : console.log

// Key names as src/shared/keys.ts builds them (prefix "userlog", user "alice" needs no encoding).

async function metric (http, name) {
  const text = await (await fetch(`${http}/metrics`)).text()
  const m = new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
}

/** A viewer: connects, sends its token, records the latency of every live entry. */
async function viewer (url, token, samples) {
  const ws = new WebSocket(url)
  let backlog = false
  const ready = new Promise((resolve, reject) => {
    ws.on('message', (data) => {
      const now = performance.now()
      const msg = JSON.parse(data.toString())
      if (msg.type === 'backlog') { backlog = true; resolve() }
      if (msg.type === 'entries') {
        for (const e of msg.entries) {
          if (typeof e.sent === 'number') samples.push(now - e.sent)
          // Through the plugin: the request's send time (ms since the epoch) is in its query.
          const sent = /[?&]sent=([\d.]+)/.exec(e.path ?? '')
          if (sent !== null) samples.push(performance.timeOrigin + now - Number(sent[1]))
        }
      }
      if (msg.type === 'dropped') samples.dropped += msg.count
    })
    ws.once('close', (code) => { if (!backlog) reject(new Error(`viewer closed with ${code}`)) })
    ws.once('error', reject)
  })
  ws.once('open', () => ws.send(JSON.stringify({ token })))
  await ready
  return ws
}

const here = (p) => fileURLToPath(new URL(p, import.meta.url))

/** The host app with the plugin (bench/lib/server.js), in its own process; resolves with its port. */
async function startHost (redisUrl) {
  const proc = fork(here('./lib/server.js'), ['plugin', redisUrl, 'userlog'],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const port = await new Promise((resolve, reject) => {
    proc.on('message', (m) => { if (m.type === 'ready') resolve(m.port) })
    proc.once('exit', (code) => reject(new Error(`the host app exited with code ${code}`)))
  })
  return { proc, port }
}

/**
 * --plugin: requests of the watched user at RATE (each with its send time in the query) and of
 * 1,000 others at --others, for SECONDS, to the host app.
 */
async function requestsThroughPlugin (port) {
  const load = (rate, users, sent) => {
    let i = 0
    return autocannon({
      url: `http://127.0.0.1:${port}`,
      connections: 10,
      overallRate: rate,
      duration: SECONDS,
      requests: [{
        method: 'GET',
        setupRequest: (req) => {
          req.path = sent ? `/hello?sent=${(performance.timeOrigin + performance.now()).toFixed(3)}` : '/hello'
          req.headers = { 'x-user': users[i++ % users.length], 'user-agent': UA }
          return req
        }
      }]
    })
  }
  const others = Array.from({ length: 1000 }, (_, i) => `other${i}`)
  await Promise.all([
    load(RATE, [USER], true),
    Number(opt.others) > 0 ? load(Number(opt.others), others, false) : null
  ])
}

async function main () {
  const redis = await startRedis()
  const db = redis.client()
  const pub = redis.client()
  let server = null
  let host = null
  const sockets = []
  try {
    server = await startRealtime(redis.url)
    const samples = []
    samples.dropped = 0
    const tokens = Array.from({ length: VIEWERS }, () => randomBytes(18).toString('base64url'))
    const m = db.multi()
    for (const t of tokens) m.set(keys.token(t), JSON.stringify({ user: USER, admin: 'bench' }), 'EX', 60)
    await m.exec()
    for (let i = 0; i < VIEWERS; i += 20) {
      sockets.push(...await Promise.all(tokens.slice(i, i + 20).map((t) => viewer(server.ws, t, samples))))
    }
    log(`${VIEWERS} viewers of "${USER}" connected; ${opt.plugin ? 'requesting' : 'writing'} ${RATE} entries/s ` +
      `for ${SECONDS} s…`)

    let total = RATE * SECONDS
    let written = opt.plugin ? total : 0
    const start = performance.now()
    if (opt.plugin) {
      host = await startHost(redis.url)
      await requestsThroughPlugin(host.port)
      // Every request the host served was logged (its maxEntries keeps them all): its entries.
      await new Promise((resolve) => setTimeout(resolve, 500))
      total = written = await db.llen(keys.log(USER))
    }
    let seq = 0
    while (written < total) {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * RATE))
      if (due > written) {
        const batch = []
        for (; written < due; written++) {
          seq++
          batch.push(JSON.stringify({
            id: `b${seq}`, t: Date.now(), user: USER, kind: 'request', method: 'GET', path: `/items/${seq}?page=2`,
            route: '/items/:id', status: 200, ms: 1.5, ip: '127.0.0.1', ua: 'bench', reqId: `req-${seq}`,
            sent: performance.now()
          }))
        }
        const payload = `[${batch.join(',')}]`
        // One batch as the plugin's write script does it: push, trim, publish to both channels.
        pub.multi().lpush(keys.log(USER), ...batch).ltrim(keys.log(USER), 0, 99)
          .publish(keys.channel(USER), payload).publish(keys.all, payload).exec().catch(() => {})
      }
      await sleep(TICK_MS)
    }
    const elapsed = (performance.now() - start) / 1000
    const expected = total * VIEWERS
    for (let i = 0; i < 100 && samples.length + samples.dropped < expected; i++) await sleep(50)

    const dropped = await metric(server.http, 'userlog_realtime_entries_dropped_total')
    const results = [
      { name: 'entries written', value: total, unit: '', goal: '', pass: null },
      { name: 'write rate', value: round(total / elapsed, 0), unit: 'entries/s', goal: `≈ ${RATE}`, pass: null },
      { name: 'viewers', value: VIEWERS, unit: '', goal: '', pass: null },
      {
        name: 'entries received (all viewers)', value: samples.length, unit: '', goal: `= ${expected}`,
        pass: samples.length === expected
      },
      { name: 'entries dropped', value: dropped, unit: '', goal: '0', pass: dropped === 0 },
      { name: 'latency p50', value: round(quantile(samples, 0.5), 2), unit: 'ms', goal: '', pass: null },
      { name: 'latency p99', value: round(quantile(samples, 0.99), 2), unit: 'ms', goal: '', pass: null },
      { name: 'latency max', value: round(quantile(samples, 1), 2), unit: 'ms', goal: '', pass: null }
    ]
    const title = opt.plugin
      ? `request → viewer through the plugin, ${RATE} requests/s of one user (${VIEWERS} viewers) ` +
        `and ${opt.others}/s of 1,000 others`
      : `PUBLISH → viewer, ${RATE} entries/s, ${VIEWERS} viewers of one user`
    printResults({ benchmark: opt.plugin ? 'live-latency-plugin' : 'live-latency', title, results, json: opt.json })
  } finally {
    for (const ws of sockets) ws.terminate()
    if (host !== null) {
      host.proc.send({ type: 'exit' })
      await new Promise((resolve) => host.proc.once('exit', resolve))
    }
    if (server !== null) await stopChild(server.proc)
    db.disconnect()
    pub.disconnect()
    await redis.stop()
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
