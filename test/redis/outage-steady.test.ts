// A long Redis outage under steady traffic, frozen (SIGSTOP) then killed, each 30 s by default
// (USERLOG_OUTAGE_SECONDS changes it). The host keeps answering every request, the plugin's buffer
// and heap stay bounded, each outage is one warning, and once Redis is back writing and live
// delivery resume by themselves. Nothing here asserts a duration: latencies are printed, not judged.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { Agent, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { setTimeout as sleep } from 'node:timers/promises'
import { RedisServer } from '../helpers/redis.js'
import { userFromHeader } from '../helpers/app.js'
import { Client, eventually, keys, mint, startServer, type Server } from '../helpers/realtime.js'
import { userlog } from '../../src/index.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const OUTAGE_MS = Number(process.env.USERLOG_OUTAGE_SECONDS ?? 30) * 1000
const MAX_BUFFER = 500
const USER = 'steady'

/** Heap in use after a full collection, so that what is measured is what is kept. */
function heapKept (): number {
  gc()
  gc()
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

interface Traffic {
  sent: number
  statuses: Map<number, number>
  errors: string[]
  maxMs: number
  stop: () => Promise<void>
}

/** About 200 requests a second on keep-alive connections, as a busy page would send, until stopped. */
function steadyTraffic (port: number): Traffic {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 })
  const traffic: Traffic = { sent: 0, statuses: new Map(), errors: [], maxMs: 0, stop: async () => {} }
  let running = true
  const one = async (): Promise<void> => {
    const n = traffic.sent++
    const started = performance.now()
    await new Promise<void>((resolve) => {
      const req = request({ port, agent, path: `/items/${n}`, headers: { 'x-user': USER } }, (res) => {
        res.resume()
        res.on('end', () => {
          traffic.statuses.set(res.statusCode ?? 0, (traffic.statuses.get(res.statusCode ?? 0) ?? 0) + 1)
          traffic.maxMs = Math.max(traffic.maxMs, performance.now() - started)
          resolve()
        })
      })
      req.on('error', (err) => { traffic.errors.push(err.message); resolve() })
      req.end()
    })
  }
  const loop = (async () => {
    while (running) {
      await Promise.all([one(), sleep(5)])
    }
  })()
  traffic.stop = async () => { running = false; await loop; agent.destroy() }
  return traffic
}

async function hostApp (redisUrl: string): Promise<{ app: FastifyInstance, port: number, warnings: () => string[] }> {
  const logs: Array<{ level: number, msg: string }> = []
  // Only warnings are kept: collecting every request's log line would itself grow the heap.
  const stream = { write: (line: string) => { logs.push(JSON.parse(line) as { level: number, msg: string }) } }
  const app = Fastify({ logger: { level: 'warn', stream } })
  await app.register(userlog, { redis: redisUrl, getUser: userFromHeader, isAdmin: () => false, maxBuffer: MAX_BUFFER })
  app.get('/items/:id', async () => ({ ok: true }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  return {
    app,
    port: (app.server.address() as AddressInfo).port,
    warnings: () => logs.filter((l) => l.level >= 40).map((l) => l.msg)
  }
}

const pathNumber = (path: unknown): number => Number(String(path).split('/').pop())

async function outage (t: Test, kind: 'frozen' | 'killed'): Promise<void> {
  const redis = await RedisServer.start()
  t.teardown(() => redis.stop())
  const db = redis.client()
  t.teardown(() => db.disconnect())
  const { app, port, warnings } = await hostApp(redis.url)
  t.teardown(() => app.close())
  const rt: Server = await startServer({ redis: redis.url, redisPingMs: 200, commandTimeoutMs: 500 })
  t.teardown(() => rt.app.close())
  const viewer = await Client.viewer(rt.url, await mint(db, USER))
  t.teardown(() => viewer.close())

  const traffic = steadyTraffic(port)
  t.teardown(() => traffic.stop())
  await viewer.until(() => viewer.entries().length >= 50, 10_000, 'live entries before the outage')
  const before = { heap: heapKept(), maxMs: traffic.maxMs }

  if (kind === 'frozen') redis.freeze()
  else await redis.kill()
  let restored = false
  t.teardown(() => { if (!restored && kind === 'frozen') redis.thaw() })
  const outageStart = { sent: traffic.sent, written: app.userlog.stats().written, dropped: app.userlog.stats().dropped }

  // Sample the bound all along; weigh the heap once the buffer is full and again at the end.
  let maxBuffered = 0
  let heapFull = 0
  const end = Date.now() + OUTAGE_MS
  while (Date.now() < end) {
    const s = app.userlog.stats()
    maxBuffered = Math.max(maxBuffered, s.buffered)
    if (heapFull === 0 && s.buffered >= MAX_BUFFER && Date.now() > end - OUTAGE_MS + 5000) heapFull = heapKept()
    await sleep(100)
  }
  const heapEnd = heapKept()
  const during = app.userlog.stats()
  const sentDuring = traffic.sent - outageStart.sent

  if (kind === 'frozen') redis.thaw()
  else await redis.spawn()
  restored = true
  const backAt = Date.now()
  const firstAfter = traffic.sent
  await eventually(() => app.userlog.stats().redis === 'up' && app.userlog.stats().buffered === 0, 15_000,
    'writing to resume')
  const writingAfterMs = Date.now() - backAt
  await viewer.until(() => viewer.entries().some((e) => pathNumber(e.path) >= firstAfter), 15_000,
    'live delivery to resume')
  const liveAfterMs = Date.now() - backAt
  await traffic.stop()

  const non200 = [...traffic.statuses].filter(([code]) => code !== 200)
  t.same(non200, [], `${traffic.sent} host requests, every one answered 200`)
  t.same(traffic.errors, [], 'no connection error')
  t.equal(during.redis, 'down', 'the outage was noticed')
  t.ok(sentDuring > MAX_BUFFER * 2, `steady traffic during the outage (${sentDuring} requests, ${MAX_BUFFER} buffer)`)
  t.ok(maxBuffered <= MAX_BUFFER, `the buffer never held more than maxBuffer (peak ${maxBuffered})`)
  t.equal(during.buffered, MAX_BUFFER, 'the buffer was full at the end of the outage')
  // (`sent` counts a request when it starts: the one in flight when `during` was read is not logged yet.)
  t.ok(during.dropped - outageStart.dropped >= sentDuring - 1 - MAX_BUFFER - (during.written - outageStart.written),
    'what did not fit was dropped and counted')
  // An entry kept in the buffer weighs about 800 B of heap (measured with an unbounded buffer), so
  // one that kept the ~5,000 entries a 30 s outage drops would grow by 4 MiB or more.
  const grew = heapEnd - heapFull
  t.ok(heapFull > 0 && grew < 1.5 * 1024 * 1024, 'the heap stopped growing once the buffer was full ' +
    `(+${(grew / 1024).toFixed(0)} KiB over ${sentDuring - MAX_BUFFER} more requests)`)
  t.equal(warnings().length, 1, `one warning for the whole outage: ${JSON.stringify(warnings())}`)
  t.equal(app.userlog.stats().redis, 'up', 'the plugin reports Redis up again')
  const [newest] = await db.lrange(keys.log(USER), 0, 0)
  t.ok(newest !== undefined && pathNumber((JSON.parse(newest) as { path: string }).path) >= firstAfter,
    'new requests are stored again')
  const mib = (b: number): string => (b / 1048576).toFixed(1)
  t.comment(`${kind} ${OUTAGE_MS / 1000} s: ${traffic.sent} requests, ` +
    `max host latency ${before.maxMs.toFixed(1)} ms before, ${traffic.maxMs.toFixed(1)} ms overall; ` +
    `heap ${mib(before.heap)} MiB before, ${mib(heapFull)} full, ${mib(heapEnd)} at the end; ` +
    `dropped ${during.dropped}; writing resumed ${writingAfterMs} ms and live delivery ${liveAfterMs} ms ` +
    'after Redis came back')
}

t.test('Redis frozen under steady traffic', async (t) => { await outage(t, 'frozen') })
t.test('Redis killed under steady traffic', async (t) => { await outage(t, 'killed') })
