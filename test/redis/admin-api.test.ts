// The admin API and page: default deny, validation, and each route's answer.
import t from 'tap'
import { RedisServer } from '../helpers/redis.js'
import { buildApp, asUser, asAdmin } from '../helpers/app.js'
import { Keys } from '../../src/shared/keys.js'

const redis = await RedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })
const keys = new Keys('userlog')

const ROUTES: Array<[string, string, unknown?]> = [
  ['GET', '/userlog/api/users'],
  ['GET', '/userlog/api/active'],
  ['GET', '/userlog/api/config'],
  ['GET', '/userlog/api/logs/alice'],
  ['DELETE', '/userlog/api/users/alice'],
  ['POST', '/userlog/api/token', { user: 'alice' }]
]

t.test('without isAdmin every admin route denies, with one warning', async (t) => {
  const { app, logs } = await buildApp({ redis: redis.url, isAdmin: undefined })
  t.teardown(() => app.close())
  for (const [method, url, body] of ROUTES) {
    const res = await app.inject({ method: method as 'GET', url, headers: asAdmin, ...(body ? { payload: body } : {}) })
    t.equal(res.statusCode, 403, `${method} ${url}`)
    t.same(res.json(), { error: 'Forbidden', message: 'Only administrators can read user logs' })
  }
  const page = await app.inject({ url: '/userlog/', headers: asAdmin })
  t.equal(page.statusCode, 403)
  t.match(page.headers['content-type'], /text\/html/)
  t.match(page.body, /403 Forbidden/)
  t.equal((await app.inject({ url: '/userlog/assets/main.js', headers: asAdmin })).statusCode, 403)
  t.equal(logs.filter((l) => String(l.msg).includes('no isAdmin option')).length, 1)
})

t.test('non-admins, a throwing isAdmin and a rejecting async isAdmin are denied; async true allows', async (t) => {
  const plain = await buildApp({ redis: redis.url })
  t.teardown(() => plain.app.close())
  for (const [method, url, body] of ROUTES) {
    const res = await plain.app.inject({
      method: method as 'GET', url, headers: asUser('bob'), ...(body ? { payload: body } : {})
    })
    t.equal(res.statusCode, 403, `non-admin ${method} ${url}`)
  }
  t.equal((await plain.app.inject({ url: '/userlog/api/users' })).statusCode, 403, 'anonymous')
  const throwing = await buildApp({ redis: redis.url, isAdmin: () => { throw new Error('db down') } })
  t.teardown(() => throwing.app.close())
  t.equal((await throwing.app.inject({ url: '/userlog/api/users', headers: asAdmin })).statusCode, 403)
  const rejecting = await buildApp({ redis: redis.url, isAdmin: async () => { throw new Error('db down') } })
  t.teardown(() => rejecting.app.close())
  t.equal((await rejecting.app.inject({ url: '/userlog/api/users', headers: asAdmin })).statusCode, 403)
  const truthy = await buildApp({ redis: redis.url, isAdmin: (() => 'yes') as unknown as () => boolean })
  t.teardown(() => truthy.app.close())
  t.equal((await truthy.app.inject({ url: '/userlog/api/users', headers: asAdmin })).statusCode, 403,
    'only true allows')
  const asyncOk = await buildApp({ redis: redis.url, isAdmin: async () => true })
  t.teardown(() => asyncOk.app.close())
  t.equal((await asyncOk.app.inject({ url: '/userlog/api/users' })).statusCode, 200)
})

t.test('users: prefix search on the name index, case-insensitive, most recent first', async (t) => {
  await db.flushall()
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  for (const user of ['alice', 'Alfred', 'albert', 'bob', 'al:ex*']) {
    await app.inject({ url: '/hello', headers: asUser(user) })
    await app.userlog.flush()
    await new Promise((resolve) => setTimeout(resolve, 3))
  }
  const search = async (q: string, limit?: number): Promise<string[]> => {
    const query = `q=${encodeURIComponent(q)}${limit ? `&limit=${limit}` : ''}`
    const res = await app.inject({ url: `/userlog/api/users?${query}`, headers: asAdmin })
    t.equal(res.statusCode, 200)
    return res.json<{ users: Array<{ user: string, lastSeen: number }> }>().users.map((u) => u.user)
  }
  t.same(await search('al'), ['al:ex*', 'albert', 'Alfred', 'alice'])
  t.same(await search('AL', 2), ['al:ex*', 'albert'])
  t.same(await search('al:'), ['al:ex*'])
  t.same(await search('z'), [])
  t.same(await search(''), ['al:ex*', 'bob', 'albert', 'Alfred', 'alice'], 'empty query: most recent users')
  const res = await app.inject({ url: '/userlog/api/users?q=a', headers: asAdmin })
  t.type(res.json<{ users: Array<{ lastSeen: unknown }> }>().users[0]?.lastSeen, 'number')
})

t.test('active: users seen in the last N minutes with their last path', async (t) => {
  await db.flushall()
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  await app.inject({ url: '/items/1', headers: asUser('carl') })
  await app.inject({ url: '/items/2?x=1', headers: asUser('carl') })
  await app.userlog.flush()
  await db.zadd(keys.usersIndex, String(Date.now() - 10 * 60_000), 'stale')
  const res = await app.inject({ url: '/userlog/api/active?minutes=5', headers: asAdmin })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { users: [{ user: 'carl', path: '/items/2?x=1', lastSeen: Number }] })
  t.equal(res.json<{ users: unknown[] }>().users.length, 1)
  const wide = await app.inject({ url: '/userlog/api/active?minutes=15', headers: asAdmin })
  t.equal(wide.json<{ users: unknown[] }>().users.length, 2)
})

t.test('logs: newest first, limit, 404 with a message, bad input is 400', async (t) => {
  await db.flushall()
  const { app } = await buildApp({ redis: redis.url, maxEntries: 50 })
  t.teardown(() => app.close())
  for (let i = 0; i < 5; i++) await app.inject({ url: `/items/${i}`, headers: asUser('dora') })
  await app.userlog.flush()
  const res = await app.inject({ url: '/userlog/api/logs/dora?limit=2', headers: asAdmin })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  const log = res.json<{ user: string, entries: Array<{ path: string }> }>()
  t.equal(log.user, 'dora')
  t.same(log.entries.map((e) => e.path), ['/items/4', '/items/3'])
  const none = await app.inject({ url: '/userlog/api/logs/nobody', headers: asAdmin })
  t.equal(none.statusCode, 404)
  t.same(none.json(), { error: 'Not Found', message: 'No logs for nobody' })
  for (const url of [
    '/userlog/api/logs/dora?limit=0', '/userlog/api/logs/dora?limit=51', '/userlog/api/logs/dora?limit=x',
    '/userlog/api/logs/dora?limit=1&limit=2', '/userlog/api/logs/dora?other=1', `/userlog/api/logs/${'u'.repeat(300)}`,
    '/userlog/api/users?limit=101', '/userlog/api/active?minutes=0', '/userlog/api/active?minutes=99999'
  ]) {
    const bad = await app.inject({ url, headers: asAdmin })
    t.equal(bad.statusCode, 400, url)
    t.match(bad.json(), { error: 'Bad Request', message: String })
  }
  const unknown = await app.inject({ url: '/userlog/api/nope', headers: asAdmin })
  t.equal(unknown.statusCode, 404)
  t.match(unknown.json(), { error: 'Not Found' })
})

t.test('delete: erases every key and index entry of the user, idempotently', async (t) => {
  await db.flushall()
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  const user = 'e:ve*{x}'
  await app.inject({ url: '/hello', headers: asUser(user) })
  await app.inject({ url: '/hello', headers: asUser('frank') })
  await app.userlog.flush()
  await db.hset(keys.sessions(user), 's1', '{}')
  const erase = { method: 'DELETE', url: `/userlog/api/users/${encodeURIComponent(user)}`, headers: asAdmin } as const
  const res = await app.inject(erase)
  t.equal(res.statusCode, 204)
  t.same(await db.keys(keys.userPattern(user)), [])
  t.equal(await db.zscore(keys.usersIndex, user), null)
  t.equal(await db.hget(keys.lastPath, user), null)
  t.same((await db.zrange(keys.namesIndex, '0', '-1')).map((m) => m.split('\0')[1]), ['frank'])
  t.equal(await db.llen(keys.log('frank')), 1, 'other users are untouched')
  const again = await app.inject(erase)
  t.equal(again.statusCode, 204)
})

t.test('token: a random single-purpose grant with a 30 s TTL', async (t) => {
  await db.flushall()
  const { app } = await buildApp({ redis: redis.url, realtimeUrl: 'wss://live.example/live' })
  t.teardown(() => app.close())
  const res = await app.inject({
    method: 'POST', url: '/userlog/api/token', headers: asAdmin, payload: { user: 'gus' }
  })
  t.equal(res.statusCode, 200)
  const { token, url, expiresIn } = res.json<{ token: string, url: string, expiresIn: number }>()
  t.equal(url, 'wss://live.example/live')
  t.equal(expiresIn, 30)
  t.ok(Buffer.from(token, 'base64url').length >= 16, 'at least 128 random bits')
  t.same(JSON.parse(String(await db.get(keys.token(token)))), { user: 'gus', admin: 'admin' })
  const ttl = await db.ttl(keys.token(token))
  t.ok(ttl > 25 && ttl <= 30)
  const second = await app.inject({
    method: 'POST', url: '/userlog/api/token', headers: asAdmin, payload: { user: '*' }
  })
  t.not(second.json<{ token: string }>().token, token)
  for (const payload of [{}, { user: '' }, { user: 5 }, { user: 'a', extra: 1 }, { user: 'x'.repeat(300) }]) {
    const bad = await app.inject({ method: 'POST', url: '/userlog/api/token', headers: asAdmin, payload })
    t.equal(bad.statusCode, 400, JSON.stringify(payload))
  }
  const notJson = await app.inject({
    method: 'POST',
    url: '/userlog/api/token',
    headers: { ...asAdmin, 'content-type': 'application/json' },
    payload: '{bad'
  })
  t.equal(notJson.statusCode, 400)
})

t.test('config and the default realtime URL follow the request host', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  const res = await app.inject({ url: '/userlog/api/config', headers: { ...asAdmin, host: 'shop.example:3000' } })
  t.match(res.json(), { realtimeUrl: 'ws://shop.example:8080/live', maxEntries: 100, timeZone: 'UTC', anonymize: false })
})

t.test('the admin page: HTML with a strict CSP, assets served, no trailing slash redirects', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  const page = await app.inject({ url: '/userlog/', headers: { ...asAdmin, host: 'shop.example' } })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /text\/html/)
  const csp = String(page.headers['content-security-policy'])
  t.match(csp, /default-src 'none'/)
  t.match(csp, /script-src 'self'(;|$)/, 'no inline scripts, no CDN')
  t.match(csp, /connect-src 'self' ws:\/\/shop\.example:8080/)
  t.equal(page.headers['x-frame-options'], 'DENY')
  t.equal(page.headers['x-content-type-options'], 'nosniff')
  t.notMatch(page.body, /https?:\/\//, 'the page loads nothing from another host')
  const redirect = await app.inject({ url: '/userlog', headers: asAdmin })
  t.equal(redirect.statusCode, 308)
  t.equal(redirect.headers.location, '/userlog/')
  for (const asset of ['main.js', 'logtable.js', 'dom.js', 'api.js', 'admin.css']) {
    t.equal((await app.inject({ url: `/userlog/assets/${asset}`, headers: asAdmin })).statusCode, 200, asset)
  }
  t.equal((await app.inject({ url: '/userlog/assets/../../package.json', headers: asAdmin })).statusCode, 404)
})

t.test('audit: views, grants and erasures are recorded, newest first, and logged', async (t) => {
  await db.flushall()
  const { app, logs } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  await app.inject({ url: '/userlog/api/logs/ivy', headers: asAdmin })
  await app.inject({ method: 'POST', url: '/userlog/api/token', headers: asAdmin, payload: { user: '*' } })
  await app.inject({ method: 'DELETE', url: '/userlog/api/users/ivy', headers: asAdmin })
  await app.inject({ url: '/userlog/api/logs/ivy', headers: asUser('bob') }) // refused: not audited
  const res = await app.inject({ url: '/userlog/api/audit?limit=10', headers: asAdmin })
  t.equal(res.statusCode, 200)
  const entries = res.json<{ entries: Array<{ t: number, admin: string, action: string, target: string }> }>().entries
  t.same(entries.map((e) => [e.admin, e.action, e.target]),
    [['admin', 'erase', 'ivy'], ['admin', 'watch', '*'], ['admin', 'view', 'ivy']])
  t.type(entries[0]?.t, 'number')
  t.equal(logs.filter((l) => String(l.msg).startsWith('fastify-userlog: audit')).length, 3)
  t.equal((await app.inject({ url: '/userlog/api/audit', headers: asUser('bob') })).statusCode, 403)
  t.equal((await app.inject({ url: '/userlog/api/audit?limit=5000', headers: asAdmin })).statusCode, 400)
})

t.test('audit: reading a log and its sessions together is one view, another user is another', async (t) => {
  await db.flushall()
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  await app.inject({ url: '/userlog/api/logs/jo', headers: asAdmin })
  await app.inject({ url: '/userlog/api/sessions/jo', headers: asAdmin })
  await app.inject({ url: '/userlog/api/logs/kim', headers: asAdmin })
  await app.inject({ url: '/userlog/api/logs/jo', headers: asUser('admin2') })
  const audit = await app.inject({ url: '/userlog/api/audit', headers: asAdmin })
  const entries = audit.json<{ entries: Array<{ action: string, target: string }> }>().entries
  t.same(entries.map((e) => e.target), ['kim', 'jo'])
})
