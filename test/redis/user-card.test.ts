// The user card: describeUser recorded once per session, the User-Agent kept by the session (not
// by each client entry) and joined back by the log API and the exports, and GET /api/users/<u>/card.
import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import Fastify from 'fastify'
import { RedisServer } from '../helpers/redis.js'
import { buildApp, asUser, asAdmin } from '../helpers/app.js'
import { Keys } from '../../src/shared/keys.js'
import { userlog } from '../../src/index.js'
import { MAX_USER } from '../../src/shared/users.js'

const redis = await RedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })
t.beforeEach(async () => { await db.flushall() })
const keys = new Keys('userlog')
type Json = Record<string, unknown>

const UA = {
  chromeWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) ' +
    'Chrome/124.0.0.0 Safari/537.36',
  safariIphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) ' +
    'Version/17.4 Mobile/15E148 Safari/604.1',
  googlebot: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'
}

/** Posts events as `user` with a User-Agent; returns the response and the session cookie it set. */
async function post (
  app: FastifyInstance, user: string, body: unknown, ua: string, cookie?: string
): Promise<{ res: LightMyRequestResponse, cookie: string, sid: string }> {
  const res = await app.inject({
    method: 'POST',
    url: '/userlog/events',
    headers: {
      host: 'app.test', origin: 'http://app.test', 'content-type': 'application/json', 'user-agent': ua,
      ...asUser(user), ...(cookie !== undefined ? { cookie: `userlog_sid=${cookie}` } : {})
    },
    payload: JSON.stringify(body)
  })
  const set = res.cookies.find((c) => c.name === 'userlog_sid')?.value ?? ''
  return { res, cookie: set, sid: set.split('.')[0] ?? '' }
}

const view = (path: string): Json => ({ type: 'pageview', path })

async function card (app: FastifyInstance, user: string, headers = asAdmin): Promise<LightMyRequestResponse> {
  return await app.inject({ url: `/userlog/api/users/${encodeURIComponent(user)}/card`, headers })
}

t.test('describeUser is asked once per session; its fields and the UA go to the session, not entries', async (t) => {
  const calls: string[] = []
  const { app } = await buildApp({
    redis: redis.url,
    describeUser: (req) => { calls.push(req.url); return { plan: 'pro', seats: 3, trial: false } }
  })
  t.teardown(() => app.close())
  const first = await post(app, 'alice', view('/a'), UA.chromeWindows)
  t.equal(first.res.statusCode, 204)
  await post(app, 'alice', [{ type: 'heartbeat', path: '/a' }, view('/b')], UA.chromeWindows, first.cookie)
  await post(app, 'alice', { type: 'interaction', path: '/b', event: 'click' }, UA.chromeWindows, first.cookie)
  await app.inject({ url: '/hello', headers: { ...asUser('alice'), 'user-agent': UA.chromeWindows } })
  await app.userlog.flush()
  t.equal(calls.length, 1, 'one call for three posts of one session (and none for a server request)')

  const hash = await db.hgetall(keys.sessions('alice'))
  t.same(JSON.parse(hash[`${first.sid}:fields`] ?? 'null'), { plan: 'pro', seats: '3', trial: 'false' },
    'numbers and booleans are stored as strings')
  t.equal(hash[`${first.sid}:ua`], UA.chromeWindows)
  const stored = (await db.lrange(keys.log('alice'), 0, -1)).map((s) => JSON.parse(s) as Json)
  const client = stored.filter((e) => e.src === 'client')
  t.equal(client.length, 4)
  for (const e of client) {
    t.notOk('ua' in e, `a stored ${String(e.kind)} has no ua`)
    t.notOk('plan' in e || 'fields' in e, 'nor the fields')
  }
  const request = stored.find((e) => e.kind === 'request')
  t.equal(request?.ua, UA.chromeWindows, 'a server request entry keeps its ua')

  await post(app, 'alice', view('/c'), UA.chromeWindows)
  await app.userlog.flush()
  t.equal(calls.length, 2, 'a new session asks again')
})

t.test('the log API and the exports show ua on client entries again, joined from the session', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  const a = await post(app, 'bob', view('/a'), UA.chromeWindows)
  await post(app, 'bob', { type: 'heartbeat', path: '/a' }, UA.chromeWindows, a.cookie)
  await post(app, 'bob', view('/phone'), UA.safariIphone)
  await app.inject({ url: '/hello', headers: { ...asUser('bob'), 'user-agent': 'curl/8.5.0' } })
  await app.userlog.flush()

  const logs = await app.inject({ url: '/userlog/api/logs/bob', headers: asAdmin })
  const entries = logs.json<{ entries: Json[] }>().entries
  t.same(entries.map((e) => [e.kind, e.path, e.ua]), [
    ['request', '/hello', 'curl/8.5.0'],
    ['pageview', '/phone', UA.safariIphone],
    ['heartbeat', '/a', UA.chromeWindows],
    ['pageview', '/a', UA.chromeWindows]
  ], 'each client entry has the User-Agent of its own session')
  const filtered = await app.inject({ url: '/userlog/api/logs/bob?kind=pageview', headers: asAdmin })
  t.same(filtered.json<{ entries: Json[] }>().entries.map((e) => e.ua), [UA.safariIphone, UA.chromeWindows],
    'filtered too')

  const csv = await app.inject({ url: '/userlog/api/logs/bob/export?format=csv', headers: asAdmin })
  t.equal(csv.statusCode, 200)
  const [header, ...rows] = csv.body.trim().split('\r\n')
  const uaColumn = (header ?? '').split(',').indexOf('ua')
  t.ok(uaColumn > 0)
  // The cells before ua hold no comma, so a split finds where the ua cell starts (quoted: a UA has commas).
  t.same(rows.map((r) => r.split(',')[uaColumn]), [
    '"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML', // quoted: the UA has commas
    '"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML',
    '"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML',
    'curl/8.5.0'
  ], 'oldest first, with the UA of each client entry')
  const ndjson = await app.inject({ url: '/userlog/api/logs/bob/export?format=ndjson', headers: asAdmin })
  t.same(ndjson.body.trim().split('\n').map((l) => (JSON.parse(l) as Json).ua),
    [UA.chromeWindows, UA.chromeWindows, UA.safariIphone, 'curl/8.5.0'])
  const all = await app.inject({ url: '/userlog/api/export?format=ndjson', headers: asAdmin })
  t.equal(all.body.trim().split('\n').filter((l) => (JSON.parse(l) as Json).ua === UA.chromeWindows).length, 2,
    'the all-users export joins it too')

  // A session hash gone (expired) leaves the entries with an empty ua, as a request without the header.
  await db.del(keys.sessions('bob'))
  const after = await app.inject({ url: '/userlog/api/logs/bob', headers: asAdmin })
  t.same(after.json<{ entries: Json[] }>().entries.map((e) => e.ua), ['curl/8.5.0', '', '', ''])
})

t.test('the card: Chrome on Windows, Safari on iPhone, a bot; sessions, first and last seen, fields', async (t) => {
  let plan = 'free'
  const { app } = await buildApp({ redis: redis.url, describeUser: () => ({ plan, company: 'ACME' }) })
  t.teardown(() => app.close())
  const before = Date.now()
  await post(app, 'carol', view('/old'), UA.safariIphone)
  await app.userlog.flush()
  await new Promise((resolve) => setTimeout(resolve, 5))
  plan = 'pro'
  const latest = await post(app, 'carol', view('/new'), UA.chromeWindows)
  await post(app, 'carol', { type: 'heartbeat', path: '/new' }, UA.chromeWindows, latest.cookie)
  await post(app, 'dave', view('/'), UA.safariIphone)
  await post(app, 'crawler', view('/'), UA.googlebot)
  await app.userlog.flush()

  const res = await card(app, 'carol')
  t.equal(res.statusCode, 200)
  const c = res.json<Json>()
  t.match(c, {
    user: 'carol',
    browser: { name: 'Chrome', version: '124.0.0.0' },
    os: { name: 'Windows', version: '10' },
    device: 'desktop',
    sessions: 2,
    fields: { plan: 'pro', company: 'ACME' }
  }, 'from the latest session')
  t.ok((c.firstSeen as number) >= before && (c.firstSeen as number) < (c.lastSeen as number))
  t.ok((c.lastSeen as number) <= Date.now())
  t.same(Object.keys(c).sort(), ['browser', 'device', 'fields', 'firstSeen', 'lastSeen', 'os', 'sessions', 'user'])

  t.match((await card(app, 'dave')).json(), {
    browser: { name: 'Safari', version: '17.4' }, os: { name: 'iOS', version: '17.4' }, device: 'mobile', sessions: 1
  })
  t.match((await card(app, 'crawler')).json(), { browser: { name: 'Googlebot' }, device: 'bot' })

  // A user seen by server requests only: the card parses the newest request's User-Agent.
  await app.inject({ url: '/hello', headers: { ...asUser('erin'), 'user-agent': UA.safariIphone } })
  await app.userlog.flush()
  t.match((await card(app, 'erin')).json(), { browser: { name: 'Safari' }, device: 'mobile', sessions: 0, fields: {} })

  const audit = (await db.lrange(keys.audit, 0, -1)).map((s) => JSON.parse(s) as Json)
  t.ok(audit.some((a) => a.action === 'view' && a.target === 'carol' && a.admin === 'admin'), 'audited as a view')
})

t.test('the card route: 404 unknown, 403 non-admin, 400 bad input, no clash with /api/users', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  await post(app, 'frank', view('/'), UA.chromeWindows)
  await app.userlog.flush()
  const unknown = await card(app, 'nobody')
  t.equal(unknown.statusCode, 404)
  t.same(unknown.json(), { error: 'Not Found', message: 'Nothing retained of nobody' })
  t.equal((await card(app, 'frank', asUser('frank'))).statusCode, 403, 'the user themself is no admin')
  t.equal((await card(app, 'frank', {})).statusCode, 403, 'anonymous')
  t.equal((await card(app, 'x'.repeat(MAX_USER + 1))).statusCode, 400, 'too long a name')
  const extra = await app.inject({ url: '/userlog/api/users/frank/card?x=1', headers: asAdmin })
  t.equal(extra.statusCode, 400)
  t.match(extra.json<Json>().message, /must NOT have additional properties/)
  t.equal((await app.inject({ url: '/userlog/api/users/frank', headers: asAdmin })).statusCode, 404,
    'GET of the user itself is no route')
  const search = await app.inject({ url: '/userlog/api/users?q=fr', headers: asAdmin })
  t.equal(search.statusCode, 200, 'search still answers')
  const slash = await card(app, 'a/b')
  t.equal(slash.statusCode, 404, 'a name with a slash is one (unknown) user')
  t.equal((await card(app, 'frank')).statusCode, 200, 'not erased by any of this')
})

t.test('describeUser: validation, bounds, a throw, a Promise', async (t) => {
  const bads: Array<[unknown, string]> = [['x', '"x"'], [1, '1'], [{}, 'object']]
  for (const [bad, got] of bads) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(userlog, { redis: redis.url, describeUser: bad as never }) }, {
      code: 'FST_USERLOG_OPTION',
      message: `fastify-userlog: option "describeUser" must be a function (got ${got})`
    })
    await app.close()
  }

  const many = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, `v${i}`]))
  const { app, logs } = await buildApp({
    redis: redis.url,
    describeUser: () => ({ long: 'é'.repeat(150), ['k'.repeat(33)]: 'too long a key', obj: {}, ...many }) as never
  })
  t.teardown(() => app.close())
  const one = await post(app, 'gina', view('/'), UA.chromeWindows)
  const two = await post(app, 'gina', view('/'), UA.chromeWindows)
  await app.userlog.flush()
  const hash = await db.hgetall(keys.sessions('gina'))
  for (const { sid } of [one, two]) {
    const fields = JSON.parse(hash[`${sid}:fields`] ?? '{}') as Record<string, string>
    t.same(Object.keys(fields), ['long', 'k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6'], 'the first 8 usable fields')
    t.equal(fields.long, 'é'.repeat(100), 'values cut at 100 characters')
  }
  t.equal(logs.filter((l) => String(l.msg).includes('describeUser must return')).length, 1, 'one warning')

  const throwing = await buildApp({ redis: redis.url, describeUser: () => { throw new Error('no profile') } })
  t.teardown(() => throwing.app.close())
  const thrown = await post(throwing.app, 'hana', view('/'), UA.chromeWindows)
  await post(throwing.app, 'hana', view('/'), UA.chromeWindows)
  t.equal(thrown.res.statusCode, 204, 'the post is still accepted')
  await throwing.app.userlog.flush()
  t.equal((await db.lrange(keys.log('hana'), 0, -1)).length, 2, 'and stored')
  t.notOk(`${thrown.sid}:fields` in (await db.hgetall(keys.sessions('hana'))), 'without fields')
  t.equal(throwing.logs.filter((l) => String(l.msg).includes('describeUser threw')).length, 1, 'logged once')
  t.same((await card(throwing.app, 'hana')).json<Json>().fields, {})

  const promising = await buildApp({
    redis: redis.url, describeUser: (async () => ({ plan: 'x' })) as unknown as () => Record<string, string>
  })
  t.teardown(() => promising.app.close())
  await post(promising.app, 'ivan', view('/'), UA.chromeWindows)
  await promising.app.userlog.flush()
  t.same((await card(promising.app, 'ivan')).json<Json>().fields, {})
  t.equal(promising.logs.filter((l) => String(l.msg).includes('returned a Promise')).length, 1)
})
