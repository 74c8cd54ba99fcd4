#!/usr/bin/env node
// What POST /events costs: autocannon posts batches of 10 client events (text/plain, as the
// tracker sends them) for 2,000 users in turn, so the per-user rate limit (120 posts a minute)
// never answers 429. Server and load generator share this process, so read the figures as a
// floor, not as capacity. Reported:
//   posts/s, events/s, p50/p99 latency;
//   Redis commands per post as sent by the client (the rate limiter's one EVALSHA per post, plus
//   the writer's batched EVALSHA: the sessions and counters ride along, they add no command).
//
//   node bench/collector.js [--quick] [--json]        (uses dist/: `npm run build` first)
import { parseArgs } from 'node:util'
import Fastify from 'fastify'
import autocannon from 'autocannon'
import { Redis } from 'ioredis'
import { userlog } from '../dist/index.js'
import { startRedis } from './lib/redis.js'
import { userFromHeader } from './lib/host.js'

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false }
  }
})
const DURATION = opt.quick ? 3 : 10
const USERS = 2000
const BATCH = 10
const log = (...a) => console.error(...a)

const sent = {}
const sendCommand = Redis.prototype.sendCommand
Redis.prototype.sendCommand = function (command, stream) {
  sent[command.name] = (sent[command.name] ?? 0) + 1
  return sendCommand.call(this, command, stream)
}

const body = JSON.stringify(Array.from({ length: BATCH }, (_, i) => i === 0
  ? { type: 'pageview', path: '/shop/items?page=2', date: new Date().toISOString(), referrer: '/shop' }
  : i % 3 === 0
    ? {
        type: 'interaction', path: '/shop/items?page=2', event: 'click', element: 'add-to-cart',
        metadata: { sku: 'A-1', qty: 1 }
      }
    : { type: 'heartbeat', path: '/shop/items?page=2' }))

const redis = await startRedis()
const app = Fastify({ logger: false })
userFromHeader(app)
await app.register(userlog, { redis: redis.url })
await app.listen({ port: 0, host: '127.0.0.1' })
const url = `http://127.0.0.1:${app.server.address().port}`

let n = 0
const statuses = {}
try {
  // Warm-up, then the measured window.
  for (const duration of [1, DURATION]) {
    for (const k of Object.keys(sent)) delete sent[k]
    const result = await autocannon({
      url: url + '/userlog/events',
      method: 'POST',
      duration,
      connections: 20,
      headers: { 'content-type': 'text/plain;charset=UTF-8', origin: url },
      body,
      setupClient: (client) => {
        client.on('response', (status) => { statuses[status] = (statuses[status] ?? 0) + 1 })
      },
      requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'x-user': `user${n++ % USERS}` } }) }]
    })
    await app.userlog.flush()
    if (duration === DURATION) {
      const posts = result.requests.total
      const commands = Object.values(sent).reduce((a, b) => a + b, 0)
      const results = [
        {
          name: 'posts per second', value: Math.round(result.requests.average), unit: 'posts/s',
          goal: null, pass: null
        },
        {
          name: `events per second (${BATCH} per post)`, value: Math.round(result.requests.average * BATCH),
          unit: 'events/s', goal: null, pass: null
        },
        { name: 'latency p50', value: result.latency.p50, unit: 'ms', goal: null, pass: null },
        { name: 'latency p99', value: result.latency.p99, unit: 'ms', goal: null, pass: null },
        {
          name: 'Redis commands per post', value: Math.round(commands / posts * 100) / 100, unit: 'commands',
          goal: '≤ 1.1', pass: commands / posts <= 1.1
        },
        {
          name: 'answers other than 204',
          value: Object.entries(statuses).filter(([s]) => s !== '204').reduce((a, [, c]) => a + c, 0),
          unit: '', goal: '0', pass: Object.keys(statuses).every((s) => s === '204')
        }
      ]
      log(`statuses ${JSON.stringify(statuses)}, commands ${JSON.stringify(sent)}, ` +
        `writer ${JSON.stringify(app.userlog.stats())}`)
      if (opt.json) {
        const title = 'POST /events: throughput and Redis commands'
        console.log(JSON.stringify({ benchmark: 'collector', title, results }))
      } else {
        for (const r of results) console.log(`${r.name}: ${r.value} ${r.unit}`)
      }
    }
    for (const k of Object.keys(statuses)) delete statuses[k]
  }
} finally {
  await app.close()
  await redis.stop()
}
