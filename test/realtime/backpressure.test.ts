// Slow viewers: a viewer that stops reading costs the server a bounded queue, is told how many
// entries it missed once it reads again, and is closed with 1013 if it stays stuck.
import t from 'tap'
import { RedisServer } from '../helpers/redis.js'
import {
  Client, entry, eventually, mint, startServer, write, type Server, type TestEntry
} from '../helpers/realtime.js'

const redis = await RedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })
t.beforeEach(async () => { await db.flushall() })

const MAX = 16 * 1024
const big = (i: number): TestEntry => entry('alice', { n: i, ua: 'x'.repeat(4000) })

/**
 * Publishes batches of 16 large entries until the server has skipped some for the viewer; returns
 * what was published and the largest message.
 */
async function flood (
  srv: Server, until: () => boolean
): Promise<{ published: TestEntry[], largest: number, peak: number }> {
  const published: TestEntry[] = []
  let largest = 0
  let peak = 0
  for (let round = 0; round < 2000 && !until(); round++) {
    const batch = Array.from({ length: 16 }, (_, k) => big(published.length + k))
    published.push(...batch)
    largest = Math.max(largest, Buffer.byteLength(`{"type":"entries","entries":${JSON.stringify(batch)}}`))
    await write(db, batch, 1000)
    for (const v of srv.app.userlogRealtime.viewers()) peak = Math.max(peak, v.peakQueuedBytes, v.queuedBytes)
  }
  return { published, largest, peak }
}

t.test('a viewer that stops reading is skipped, told the count, and nothing else is lost', async (t) => {
  const srv = await startServer({ redis: redis.url, maxBufferedBytes: MAX, stuckMs: 60_000 })
  t.teardown(() => srv.app.close())
  const c = await Client.viewer(srv.url, await mint(db, 'alice'))
  t.teardown(() => c.close())
  await c.until((ms) => ms.some((m) => m.type === 'backlog'))

  c.ws.pause()
  const { published, largest, peak } = await flood(srv, () => srv.app.userlogRealtime.stats().dropped >= 64)
  const skipped = srv.app.userlogRealtime.stats().dropped
  t.ok(skipped >= 64, `${skipped} entries skipped`)
  t.ok(peak <= MAX + largest, `the server's queue for the viewer stayed bounded (${peak} ≤ ${MAX} + ${largest} bytes)`)
  t.equal(srv.app.userlogRealtime.stats().viewers, 1, 'not closed: stuckMs not reached')

  c.ws.resume()
  const last = big(published.length)
  published.push(last)
  await eventually(() => srv.app.userlogRealtime.viewers()[0]?.queuedBytes === 0, 20_000, 'drained')
  await write(db, [last], 1000)
  await c.until(() => c.entries().at(-1)?.id === last.id, 20_000, 'the entry after the drain')
  const told = c.ofType('dropped').reduce((n, m) => n + (m.count as number), 0)
  // Compared with the final count: messages still on their way when the flood stopped may have
  // been skipped after `skipped` was read.
  t.equal(told, srv.app.userlogRealtime.stats().dropped, 'told exactly how many were skipped')
  const got = c.entries().map((e) => e.n as number)
  t.equal(got.length + told, published.length, 'every entry either delivered or counted')
  t.same(got, [...got].sort((a, b) => a - b), 'in order')
  t.equal(new Set(got).size, got.length, 'no duplicates')
  const firstDropped = c.messages.findIndex((m) => m.type === 'dropped')
  t.ok(firstDropped > 0 && c.messages.slice(firstDropped + 1).some((m) => m.type === 'entries'),
    'the notice precedes the entries that follow it')
})

t.test('a viewer stuck past stuckMs is closed with 1013', async (t) => {
  const srv = await startServer({ redis: redis.url, maxBufferedBytes: MAX, stuckMs: 200 })
  t.teardown(() => srv.app.close())
  const c = await Client.viewer(srv.url, await mint(db, 'alice'))
  t.teardown(() => c.close())
  await c.until((ms) => ms.some((m) => m.type === 'backlog'))

  c.ws.pause()
  const { largest, peak } = await flood(srv, () => srv.app.userlogRealtime.viewers()[0]?.stuck === true)
  await eventually(async () => /viewers_closed_total\{reason="slow"\} 1/.test(await (await fetch(`${srv.http}/metrics`)).text()), 10_000, 'closed as slow')
  t.ok(peak <= MAX + largest, `bounded queue (${peak} bytes)`)
  t.match(srv.logs.find((l) => l.msg.includes('stopped reading')), { level: 40 }, 'logged')

  c.ws.resume()
  const { code } = await c.closed
  t.equal(code, 1013, 'the client reads its queue, then the close code')
  await eventually(() => srv.app.userlogRealtime.stats().viewers === 0, 5000, 'viewer removed')
  t.ok(srv.app.userlogRealtime.stats().dropped > 0)
})

t.test('a viewer that answers no ping is terminated', async (t) => {
  const srv = await startServer({ redis: redis.url, pingIntervalMs: 50 })
  t.teardown(() => srv.app.close())
  const c = await Client.viewer(srv.url, await mint(db, 'alice'))
  t.teardown(() => c.close())
  // A paused client reads nothing, so it never sees the ping nor answers it.
  c.ws.pause()
  await eventually(() => srv.app.userlogRealtime.stats().viewers === 0, 10_000, 'terminated')
  t.match(await (await fetch(`${srv.http}/metrics`)).text(), /viewers_closed_total\{reason="unresponsive"\} 1/)
})
