// The request hook and the batched writer against a real redis-server.
import t from 'tap'
import Fastify from 'fastify'
import { RedisServer } from '../helpers/redis.js'
import { buildApp, asUser, asAdmin, userFromHeader } from '../helpers/app.js'
import { Keys } from '../../src/shared/keys.js'
import { userlog } from '../../src/index.js'

const redis = await RedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })
t.beforeEach(async () => { await db.flushall() })
const keys = new Keys('userlog')

async function logOf (user: string, prefix = 'userlog'): Promise<Array<Record<string, unknown>>> {
  return (await db.lrange(new Keys(prefix).log(user), 0, -1)).map((s) => JSON.parse(s) as Record<string, unknown>)
}

t.test('one entry per request of a known user, with every documented field', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  const res = await app.inject({ url: '/items/7?page=2', headers: { ...asUser('alice'), 'user-agent': 'Test/1.0' } })
  t.equal(res.statusCode, 200)
  await app.inject({ url: '/hello' }) // anonymous: not logged
  await app.userlog.flush()
  const [entry, ...rest] = await logOf('alice')
  t.equal(rest.length, 0)
  t.match(entry, {
    user: 'alice', kind: 'request', method: 'GET', path: '/items/7?page=2', route: '/items/:id',
    status: 200, ip: '127.0.0.1', ua: 'Test/1.0', reqId: String
  })
  t.type(entry?.id, 'string')
  t.ok(Math.abs(Number(entry?.t) - Date.now()) < 60_000)
  t.type(entry?.ms, 'number')
  t.same(await db.keys('userlog:{anonymous*'), [])
  t.equal(await db.zcard(keys.usersIndex), 1, 'only alice is indexed')
})

t.test('the cap is exact and the TTL is refreshed', async (t) => {
  const { app } = await buildApp({ redis: redis.url, maxEntries: 5, ttl: 300 })
  t.teardown(() => app.close())
  for (let i = 0; i < 12; i++) await app.inject({ url: `/items/${i}`, headers: asUser('bob') })
  await app.userlog.flush()
  const entries = await logOf('bob')
  t.equal(entries.length, 5, 'exactly maxEntries, never maxEntries + 1')
  t.same(entries.map((e) => e.path), ['/items/11', '/items/10', '/items/9', '/items/8', '/items/7'], 'newest first')
  const ttl = await db.ttl(keys.log('bob'))
  t.ok(ttl > 290 && ttl <= 330, `ttl ${ttl}`)
  // A batch larger than the cap keeps exactly its newest entries too.
  for (let i = 0; i < 12; i++) void app.inject({ url: `/items/b${i}`, headers: asUser('carol') })
  await new Promise((resolve) => setTimeout(resolve, 50))
  await app.userlog.flush()
  t.equal((await logOf('carol')).length, 5)
})

t.test('a hostile username works and never appears raw in a key', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  const user = 'a:b*c{d}?[e] f'
  await app.inject({ url: '/hello', headers: asUser(user) })
  await app.inject({ url: '/hello', headers: asUser('a') })
  await app.userlog.flush()
  const allKeys = await db.keys('*')
  for (const key of allKeys) t.notOk(key.includes(user), key)
  t.equal((await logOf(user)).length, 1)
  t.equal((await logOf('a')).length, 1, 'a prefix of the name is another user')
  const res = await app.inject({ url: `/userlog/api/logs/${encodeURIComponent(user)}`, headers: asAdmin })
  t.equal(res.json<{ entries: Array<{ user: string }> }>().entries[0]?.user, user)
})

t.test('query secrets are redacted, long fields truncated', async (t) => {
  const { app } = await buildApp({ redis: redis.url, redactQuery: ['password', 'token', 'Session'] })
  t.teardown(() => app.close())
  const long = 'x'.repeat(5000)
  await app.inject({
    url: `/hello?password=hunter2&q=ok&TOKEN=abc&session=s1&Pass%77ord=p2&${long}`,
    headers: { ...asUser('dave'), 'user-agent': 'U'.repeat(2000) }
  })
  await app.userlog.flush()
  const [entry] = await logOf('dave')
  const path = String(entry?.path)
  t.ok(path.startsWith('/hello?password=REDACTED&q=ok&TOKEN=REDACTED&session=REDACTED&Pass%77ord=REDACTED&'))
  t.notOk(path.includes('hunter2'))
  t.notOk(path.includes('p2&'))
  t.equal(path.length, 2048)
  t.equal(String(entry?.ua).length, 512)
})

t.test('ignore patterns, the plugin routes, per-route opt-out and transform', async (t) => {
  const { app } = await buildApp({
    redis: redis.url,
    ignore: ['/userlog', '/health', /\.png$/],
    transform: (entry) => {
      if (entry.path === '/drop') return null
      return { ...entry, path: String(entry.path).replace(/\/items\/\d+/, '/items/:redacted'), tenant: 'acme' }
    }
  }, (app) => {
    app.get('/health', async () => 'ok')
    app.get('/health/deep', async () => 'ok')
    app.get('/healthz', async () => 'ok')
    app.get('/logo.png', async () => 'png')
    app.get('/drop', async () => 'x')
  })
  t.teardown(() => app.close())
  for (const url of [
    '/health', '/health/deep', '/healthz', '/logo.png', '/quiet', '/drop', '/items/42',
    '/userlog/api/users', '/userlogin'
  ]) {
    await app.inject({ url, headers: asUser('erin') })
  }
  await app.userlog.flush()
  const paths = (await logOf('erin')).map((e) => e.path).reverse()
  t.same(paths, ['/healthz', '/items/:redacted', '/userlogin'],
    'only the sub-path boundary is ignored; /userlogin is logged')
  t.equal((await logOf('erin'))[0]?.tenant, 'acme', 'transform can add fields')
})

t.test('a throwing getUser or transform is logged once and never fails the request', async (t) => {
  const { app, logs } = await buildApp({ redis: redis.url, getUser: () => { throw new Error('boom') } })
  t.teardown(() => app.close())
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: '/hello' })).statusCode, 200)
  t.equal(logs.filter((l) => String(l.msg).includes('getUser threw')).length, 1)
  const b = await buildApp({ redis: redis.url, transform: () => { throw new Error('boom') } })
  t.teardown(() => b.app.close())
  for (let i = 0; i < 3; i++) t.equal((await b.app.inject({ url: '/hello', headers: asUser('x') })).statusCode, 200)
  t.equal(b.logs.filter((l) => String(l.msg).includes('transform threw')).length, 1)
  await b.app.userlog.flush()
  t.equal((await logOf('x')).length, 0)
})

t.test('a batch is one script call; the index and publishes come with it', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  const sub = redis.client()
  t.teardown(() => sub.disconnect())
  const messages: Array<[string, string]> = []
  sub.on('message', (channel: string, message: string) => messages.push([channel, message]))
  await sub.subscribe(keys.userChannel('u1'), keys.userChannel('u2'), keys.allChannel)
  // What a realtime server watching u1 and all users holds (u2 is not watched: never published).
  await db.set(keys.watchLease('u1'), '1', 'PX', 30_000)
  await db.set(keys.allWatchLease, '1', 'PX', 30_000)
  await db.config('RESETSTAT')
  // 200 requests in flight at once: they land in a few batches, not 200 writes.
  await Promise.all(Array.from({ length: 200 },
    (_, i) => app.inject({ url: `/items/${i}`, headers: asUser(`u${i % 3}`) })))
  await app.userlog.flush()
  const stats = await db.info('commandstats')
  const calls = (name: string): number => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
  const scripts = calls('evalsha') + calls('eval')
  t.ok(scripts >= 1 && scripts <= 20, `${scripts} script calls for 200 requests`)
  t.ok(calls('lpush') <= scripts * 3, 'LPUSH only runs inside the script, once per user and batch')
  const processed = Number(/total_commands_processed:(\d+)/.exec(await db.info('stats'))?.[1])
  t.ok(processed < 60, `${processed} top-level commands for 200 requests (the test's own INFO calls included)`)
  t.equal(app.userlog.stats().written, 200)
  t.equal(app.userlog.stats().batches, scripts)
  await new Promise((resolve) => setTimeout(resolve, 50))
  const all = messages.filter(([c]) => c === keys.allChannel)
    .flatMap(([, m]) => JSON.parse(m) as Array<{ id: string, user: string }>)
  t.equal(all.length, 200, 'every entry is published on the all-users channel')
  t.equal(new Set(all.map((e) => e.id)).size, 200)
  const own = messages.filter(([c]) => c === keys.userChannel('u1'))
    .flatMap(([, m]) => JSON.parse(m) as Array<{ user: string }>)
  t.ok(own.length > 60 && own.every((e) => e.user === 'u1'), 'the per-user channel carries that user only')
  t.equal(messages.filter(([c]) => c === keys.userChannel('u2')).length, 0, 'a user nobody watches is not published')
  t.equal(await db.zcard(keys.usersIndex), 3)
  t.equal(await db.zcard(keys.namesIndex), 3)
  t.equal(await db.hlen(keys.lastPath), 3)
})

t.test('the users index forgets users whose logs expired', async (t) => {
  const { app } = await buildApp({ redis: redis.url, ttl: 1 })
  t.teardown(() => app.close())
  await app.inject({ url: '/hello', headers: asUser('old') })
  await app.userlog.flush()
  t.not(await db.zscore(keys.usersIndex, 'old'), null)
  await new Promise((resolve) => setTimeout(resolve, 1100))
  await app.inject({ url: '/hello', headers: asUser('new') })
  await app.userlog.flush()
  t.equal(await db.zscore(keys.usersIndex, 'old'), null)
  t.same(await db.zrange(keys.namesIndex, '0', '-1'), ['new\0new'])
  t.equal(await db.hget(keys.lastPath, 'old'), null)
  t.equal(await db.exists(keys.log('old')), 0, 'the log itself expired')
})

t.test('record() adds custom entries; stats() counts them', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  t.equal(app.userlog.record('frank', { kind: 'payment', amount: 12, id: 'forged', user: 'mallory' }), true)
  t.throws(() => app.userlog.record(''), { code: 'FST_USERLOG_NO_USER', message: /non-empty user/ })
  await app.userlog.flush()
  const [entry] = await logOf('frank')
  t.match(entry, { kind: 'payment', amount: 12, user: 'frank' })
  t.not(entry?.id, 'forged', 'fields cannot override id or user')
  t.match(app.userlog.stats(), { written: 1, dropped: 0, buffered: 0, redis: 'up' })
})

t.test('prefix option separates installations', async (t) => {
  const { app } = await buildApp({ redis: redis.url, prefix: 'other' })
  t.teardown(() => app.close())
  await app.inject({ url: '/hello', headers: asUser('gina') })
  await app.userlog.flush()
  t.equal((await logOf('gina', 'other')).length, 1)
  t.equal((await logOf('gina')).length, 0)
})

t.test('the plugin keeps its parsers, validators and routes to itself', async (t) => {
  const app = Fastify()
  // The host coerces query strings (Fastify's default); the plugin's Ajv must not change that.
  await app.register(userlog, { redis: redis.url, getUser: userFromHeader })
  app.get('/n', { schema: { querystring: { type: 'object', properties: { n: { type: 'integer' } } } } },
    async (req) => req.query)
  app.post('/echo', async (req) => ({ type: typeof req.body }))
  await app.ready()
  t.teardown(() => app.close())
  t.same((await app.inject({ url: '/n?n=5' })).json(), { n: 5 }, 'host keeps type coercion')
  const text = await app.inject({
    method: 'POST', url: '/echo', headers: { 'content-type': 'text/plain' }, payload: '{"a":1}'
  })
  t.equal(text.json<{ type: string }>().type, 'string', 'the host still parses text/plain as text')
  t.equal(app.hasDecorator('userlog'), true)
  t.equal(app.hasRequestDecorator('cookies'), false, 'no cookie decorator leaks into the host')
  const missing = await app.inject({ url: '/nope' })
  t.equal(missing.statusCode, 404)
  t.notOk(missing.headers['content-security-policy'], 'the admin CSP does not leak into host responses')
})

t.test('registering twice is refused', async (t) => {
  const app = Fastify()
  await app.register(userlog, { redis: redis.url })
  await t.rejects(async () => { await app.register(userlog, { redis: redis.url }).ready() }, { code: 'FST_USERLOG_ALREADY_REGISTERED', message: /already been registered/ })
  await app.close()
})

t.test('a user-supplied client is used as is and left open on close', async (t) => {
  const client = redis.client()
  const app = Fastify()
  await app.register(userlog, { redis: client, getUser: userFromHeader })
  app.get('/x', async () => 'x')
  await app.inject({ url: '/x', headers: asUser('hank') })
  await app.close()
  t.equal(client.status, 'ready')
  t.equal((await logOf('hank')).length, 1, 'the buffer was flushed on close')
  client.disconnect()
})

t.test('flush() resolves only when every batch, including the last, is written', async (t) => {
  const { app } = await buildApp({ redis: redis.url, maxEntries: 10 })
  t.teardown(() => app.close())
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 2500; i++) app.userlog.record(`bulk${i % 7}`, { n: i })
    await app.userlog.flush()
    t.match(app.userlog.stats(), { written: 2500 * (round + 1), buffered: 0 })
  }
  t.ok(app.userlog.stats().batches >= 9, 'more than one batch each round (1000 entries at most per call)')
})
