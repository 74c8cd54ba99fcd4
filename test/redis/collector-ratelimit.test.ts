// The /events rate limit: kept in Redis (shared by every app instance), per user or per IP, and
// skipped, never a 500, while Redis is down or frozen.
import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { RedisServer } from '../helpers/redis.js'
import { buildApp, asUser } from '../helpers/app.js'
import { Keys } from '../../src/shared/keys.js'
import { EVENTS_PER_WINDOW } from '../../src/collector/routes.js'

const redis = await RedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })
t.beforeEach(async () => { await db.flushall() })
const keys = new Keys('userlog')

async function post (
  app: FastifyInstance, user?: string, payload: unknown = { type: 'heartbeat', path: '/x' }, ip = '127.0.0.1'
): Promise<LightMyRequestResponse> {
  return await app.inject({
    method: 'POST',
    url: '/userlog/events',
    remoteAddress: ip,
    headers: { 'content-type': 'text/plain', ...(user === undefined ? {} : asUser(user)) },
    payload: JSON.stringify(payload)
  })
}

t.test('429 with Retry-After past the limit, shared by two instances on the same Redis', async (t) => {
  const a = (await buildApp({ redis: redis.url, maxEntries: 1000 })).app
  const b = (await buildApp({ redis: redis.url, maxEntries: 1000 })).app
  t.teardown(async () => { await a.close(); await b.close() })
  const half = EVENTS_PER_WINDOW / 2
  for (let i = 0; i < half; i++) t.equal((await post(a, 'alice')).statusCode, 204)
  for (let i = 0; i < half; i++) t.equal((await post(b, 'alice')).statusCode, 204)
  const over = await post(b, 'alice')
  t.equal(over.statusCode, 429, 'instance b saw the posts made to a')
  const retry = Number(over.headers['retry-after'])
  t.ok(retry >= 1 && retry <= 60, `Retry-After: ${String(over.headers['retry-after'])}`)
  t.match(over.json(), { error: 'Too Many Requests', message: /Rate limit exceeded/ })
  t.equal(over.headers['set-cookie'], undefined, 'a refused post sets no cookie')
  t.equal((await post(a, 'alice')).statusCode, 429, 'and so does a')
  t.equal((await post(a, 'bob')).statusCode, 204, 'another user has his own budget')
  await a.userlog.flush()
  await b.userlog.flush()
  t.equal(await db.llen(keys.log('alice')), EVENTS_PER_WINDOW, 'refused posts stored nothing')
  const rl = await db.keys(keys.rateLimit + '*')
  t.ok(rl.length >= 2, 'the counters live in Redis under the rate-limit namespace')
  t.ok(rl.every((k) => k.startsWith('userlog:{rl}:')))
  t.ok(rl.some((k) => k.endsWith('-u:alice')), 'keyed by user')
})

t.test('visitors without a user are limited per IP', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  for (let i = 0; i < EVENTS_PER_WINDOW; i++) {
    await post(app, undefined, { type: 'heartbeat', path: '/' }, '198.51.100.7')
  }
  t.equal((await post(app, undefined, { type: 'heartbeat', path: '/' }, '198.51.100.7')).statusCode, 429)
  t.equal((await post(app, undefined, { type: 'heartbeat', path: '/' }, '198.51.100.8')).statusCode, 204, 'another IP')
  t.equal((await post(app, 'carol', { type: 'heartbeat', path: '/' }, '198.51.100.7')).statusCode, 204,
    'a user behind that IP')
})

t.test('Redis down or frozen: posts are answered 204 or 4xx, never 500', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(async () => {
    redis.thaw()
    await app.close()
  })
  t.equal((await post(app, 'dan')).statusCode, 204)
  await redis.kill()
  t.equal((await post(app, 'dan')).statusCode, 204, 'the limit is skipped, the event buffered')
  const batch = [{ type: 'pageview', path: '/a' }, { type: 'interaction', path: '/a', event: 'click', element: 'b' }]
  t.equal((await post(app, 'dan', batch)).statusCode, 204)
  t.equal((await post(app, 'dan', { type: 'nope', path: '/' })).statusCode, 400)
  t.equal((await post(app, undefined, { type: 'heartbeat', path: '/' })).statusCode, 204)
  t.equal((await app.inject({ url: '/userlog/tracker.js' })).statusCode, 200)
  await redis.spawn()
  // Frozen: the socket stays open and nothing answers; the command timeout lets the post through.
  while (app.userlog.stats().redis !== 'up' || app.userlog.stats().buffered > 0) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  redis.freeze()
  t.equal((await post(app, 'dan')).statusCode, 204)
  redis.thaw()
  await app.userlog.flush()
  await app.userlog.flush()
  const kinds = (await db.lrange(keys.log('dan'), 0, -1)).map((s) => (JSON.parse(s) as { kind: string }).kind)
  t.ok(kinds.includes('interaction'), 'what was buffered during the outage reached Redis afterwards')
})
