// A Redis outage never fails or slows the host's requests: killed (socket closed) and frozen
// (SIGSTOP: the socket stays open, only a timeout notices).
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { RedisServer } from '../helpers/redis.js'
import { buildApp, asUser } from '../helpers/app.js'
import { Keys } from '../../src/shared/keys.js'

const keys = new Keys('userlog')

async function until (what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return
    await sleep(25)
  }
  throw new Error(`timed out waiting for ${what}`)
}

function warnings (logs: Array<Record<string, unknown>>): number {
  return logs.filter((l) => l.level === 40 && String(l.msg).includes('Redis is unavailable')).length
}

t.test('killed Redis: requests keep answering, the buffer is bounded, writing resumes by itself', async (t) => {
  const redis = await RedisServer.start()
  t.teardown(() => redis.stop())
  const { app, logs } = await buildApp({ redis: redis.url, maxBuffer: 50, maxEntries: 1000 })
  t.teardown(() => app.close())

  await app.inject({ url: '/hello', headers: asUser('ann') })
  await app.userlog.flush()
  t.equal(app.userlog.stats().written, 1)

  await redis.kill()
  let served = 0
  for (let i = 0; i < 120; i++) {
    const res = await app.inject({ url: `/items/${i}`, headers: asUser('ann') })
    t.equal(res.statusCode, 200)
    served++
    await sleep(2)
  }
  t.equal(served, 120)
  await until('the outage to be noticed', () => app.userlog.stats().redis === 'down')
  const during = app.userlog.stats()
  t.equal(during.buffered, 50, 'the buffer holds exactly maxBuffer entries')
  t.equal(during.dropped, 70, 'the rest were dropped and counted')
  t.equal(warnings(logs), 1, 'one warning for the outage, not one per request')

  await redis.spawn()
  await until('writing to resume', () => app.userlog.stats().redis === 'up' && app.userlog.stats().buffered === 0)
  const db = redis.client()
  t.teardown(() => db.disconnect())
  // The restarted Redis lost its data (no persistence): what reached it is the buffer.
  t.equal(await db.llen(keys.log('ann')), 50)
  t.equal(app.userlog.stats().written, 51)
  t.ok(logs.some((l) => String(l.msg).includes('Redis is back')), 'recovery is logged')

  // A second outage gets its own single warning.
  await redis.kill()
  await app.inject({ url: '/hello', headers: asUser('ann') })
  await until('the second outage', () => app.userlog.stats().redis === 'down')
  t.equal(warnings(logs), 2)
  await redis.spawn()
  await until('recovery again', () => app.userlog.stats().redis === 'up')
})

t.test('frozen Redis: a timeout notices, and the retried batch is written exactly once', async (t) => {
  const redis = await RedisServer.start()
  t.teardown(() => redis.stop())
  const { app, logs } = await buildApp({ redis: redis.url, maxBuffer: 1000, maxEntries: 1000 })
  t.teardown(() => app.close())
  await app.inject({ url: '/hello', headers: asUser('bea') })
  await app.userlog.flush()

  redis.freeze()
  for (let i = 0; i < 40; i++) {
    const res = await app.inject({ url: `/items/${i}`, headers: asUser('bea') })
    t.equal(res.statusCode, 200, 'requests do not wait for the frozen Redis')
    await sleep(5)
  }
  await until('the timeout to mark Redis down', () => app.userlog.stats().redis === 'down')
  t.equal(warnings(logs), 1)
  for (let i = 40; i < 60; i++) {
    t.equal((await app.inject({ url: `/items/${i}`, headers: asUser('bea') })).statusCode, 200)
  }
  t.equal(app.userlog.stats().buffered, 60)

  redis.thaw()
  await until('writing to resume', () => app.userlog.stats().redis === 'up' && app.userlog.stats().buffered === 0)
  const db = redis.client()
  t.teardown(() => db.disconnect())
  const entries = (await db.lrange(keys.log('bea'), 0, -1)).map((s) => JSON.parse(s) as { id: string, path: string })
  t.equal(entries.length, 61, 'every entry once: the timed-out attempt and its retry did not both count')
  t.equal(new Set(entries.map((e) => e.id)).size, 61)
  t.same(entries.slice(0, 3).map((e) => e.path), ['/items/59', '/items/58', '/items/57'])
})

t.test('close flushes the buffer, and gives up after 2 s when Redis is gone', async (t) => {
  const redis = await RedisServer.start()
  t.teardown(() => redis.stop())
  const db = redis.client()
  t.teardown(() => db.disconnect())
  const a = await buildApp({ redis: redis.url })
  for (let i = 0; i < 10; i++) await a.app.inject({ url: '/hello', headers: asUser('cid') })
  await a.app.close()
  t.equal(await db.llen(keys.log('cid')), 10, 'flushed on close')

  const b = await buildApp({ redis: redis.url })
  await redis.kill()
  await b.app.inject({ url: '/hello', headers: asUser('cid') })
  const started = Date.now()
  await b.app.close()
  t.ok(Date.now() - started < 10_000, 'close does not hang on a dead Redis')
  t.ok(b.logs.some((l) => String(l.msg).includes('closed with entries not written')), 'the loss is logged')
})

t.test('Redis down at start-up: the app starts and the admin API answers 503', async (t) => {
  const redis = await RedisServer.start()
  await redis.kill()
  t.teardown(() => redis.stop())
  const { app, logs } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  t.ok(logs.some((l) => String(l.msg).includes('not reachable yet')))
  t.equal((await app.inject({ url: '/hello', headers: asUser('dan') })).statusCode, 200)
  const res = await app.inject({ url: '/userlog/api/users', headers: asUser('admin') })
  t.equal(res.statusCode, 503)
  t.match(res.json(), { error: 'Service Unavailable', message: /Redis/ })
  await redis.spawn()
  await until('the buffered entry to be written', () => app.userlog.stats().written >= 1)
})
