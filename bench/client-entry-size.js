#!/usr/bin/env node
// Bytes of Redis memory per stored client entry (browser events posted to /events): one user's
// log of 100 entries (the default maxEntries) from one browser session with a common desktop
// User-Agent, measured with MEMORY USAGE (SAMPLES 0: every element), per round:
//   log     MEMORY USAGE of the user's log list ÷ entries
//   json    the average entry as stored (its JSON text)
//   session MEMORY USAGE of the user's sessions hash (where the User-Agent is kept once)
// `--dist DIR` measures another build of the plugin (e.g. an older release's dist/) the same way.
//
//   node bench/client-entry-size.js [--rounds 3] [--quick] [--dist DIR] [--json]
//   (uses dist/: `npm run build` first; --quick: one round)
import { parseArgs } from 'node:util'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import Fastify from 'fastify'
import { startRedis } from './lib/redis.js'
import { userFromHeader } from './lib/host.js'
import { printResults } from './lib/machine.js'
import { summary } from './lib/stats.js'
import { BROWSER_UA as UA } from './lib/users.js'

const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string' },
    quick: { type: 'boolean', default: false },
    dist: { type: 'string', default: new URL('../dist', import.meta.url).pathname },
    json: { type: 'boolean', default: false }
  }
})
const ROUNDS = Number(opt.rounds ?? (opt.quick ? 1 : 3))
const ENTRIES = 100
const USER = 'customer42@example.com'
const dist = pathToFileURL(resolve(opt.dist) + '/').href
const { userlog } = await import(dist + 'index.js')
const { Keys } = await import(dist + 'shared/keys.js')

/** A realistic mix: a page view every 10 events, heartbeats and clicks between them. */
function event (i) {
  const path = `/shop/orders/${1000 + Math.floor(i / 10)}?tab=details`
  if (i % 10 === 0) return { type: 'pageview', path, referrer: 'https://shop.example/orders' }
  if (i % 3 === 0) return { type: 'interaction', path, event: 'click', element: 'button#pay' }
  return { type: 'heartbeat', path }
}

async function oneRound (db, redisUrl) {
  await db.flushall()
  const app = Fastify({ logger: false })
  userFromHeader(app)
  await app.register(userlog, { redis: redisUrl, isAdmin: () => false })
  await app.ready()
  let cookie = ''
  for (let i = 0; i < ENTRIES; i++) {
    const res = await app.inject({
      method: 'POST',
      url: '/userlog/events',
      headers: {
        host: 'shop.example', origin: 'https://shop.example', 'content-type': 'application/json', 'user-agent': UA,
        'x-user': USER, ...(cookie !== '' ? { cookie: `userlog_sid=${cookie}` } : {})
      },
      payload: JSON.stringify(event(i)),
      remoteAddress: '203.0.113.7'
    })
    if (res.statusCode !== 204) throw new Error(`POST /events answered ${res.statusCode}: ${res.body}`)
    cookie = res.cookies.find((c) => c.name === 'userlog_sid')?.value ?? cookie
  }
  await app.userlog.flush()
  const keys = new Keys('userlog')
  const items = await db.lrange(keys.log(USER), 0, -1)
  if (items.length !== ENTRIES) throw new Error(`${items.length} entries stored, ${ENTRIES} expected`)
  const log = Number(await db.call('MEMORY', 'USAGE', keys.log(USER), 'SAMPLES', '0'))
  const session = Number(await db.call('MEMORY', 'USAGE', keys.sessions(USER), 'SAMPLES', '0'))
  const json = items.reduce((n, s) => n + Buffer.byteLength(s), 0)
  await app.close()
  return { log: log / ENTRIES, json: json / ENTRIES, session }
}

async function main () {
  const redis = await startRedis()
  const db = redis.client()
  try {
    const rounds = []
    for (let r = 0; r < ROUNDS; r++) rounds.push(await oneRound(db, redis.url))
    const figure = (name, key, unit) => {
      const s = summary(rounds.map((x) => x[key]))
      return {
        name: `${name} (median; min–max ${Math.round(s.min)}–${Math.round(s.max)} over ${ROUNDS} rounds)`,
        value: Math.round(s.median), unit, goal: '', pass: null
      }
    }
    const results = [
      figure(`Redis memory per client entry, a log of ${ENTRIES} (MEMORY USAGE)`, 'log', 'B'),
      figure('stored client entry JSON, average', 'json', 'B'),
      figure('the session hash, whole (MEMORY USAGE)', 'session', 'B')
    ]
    printResults({
      benchmark: 'client-entry-size', title: 'Stored bytes per client entry', results, json: opt.json,
      extra: { rounds: ROUNDS, entries: ENTRIES, dist: opt.dist }
    })
  } finally {
    db.disconnect()
    await redis.stop()
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 2
})
