// The log API's filters and Active now's presence, from real requests and real tracker posts
// stored in a real Redis.
import t from 'tap'
import { RedisServer } from '../helpers/redis.js'
import { buildApp, asUser, asAdmin } from '../helpers/app.js'
import { Keys } from '../../src/shared/keys.js'
import { presence } from '../../src/shared/view-rules.js'

const redis = await RedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })
const keys = new Keys('userlog')

type App = Awaited<ReturnType<typeof buildApp>>['app']
async function post (app: App, user: string, events: unknown): Promise<number> {
  const headers = asUser(user)
  const res = await app.inject({ method: 'POST', url: '/userlog/events', headers, payload: events as object })
  return res.statusCode
}

t.test('logs: the kind, status, method and path filters return exactly the matching entries', async (t) => {
  await db.flushall()
  const { app } = await buildApp({ redis: redis.url }, (app) => {
    app.get('/cart', async () => 'cart')
    app.post('/cart/items', async (_req, reply) => await reply.code(503).send('busy'))
  })
  t.teardown(() => app.close())
  await app.inject({ url: '/cart?x=1', headers: asUser('dana') })
  await app.inject({ method: 'POST', url: '/cart/items', headers: asUser('dana'), payload: {} })
  await app.inject({ url: '/missing', headers: asUser('dana') })
  t.equal(await post(app, 'dana', [{ type: 'pageview', path: '/cart' }, { type: 'heartbeat', path: '/cart' }]), 204)
  await app.userlog.flush()

  const paths = async (query: string): Promise<string[]> => {
    const res = await app.inject({ url: `/userlog/api/logs/dana?${query}`, headers: asAdmin })
    t.equal(res.statusCode, 200, query)
    return res.json<{ entries: Array<{ kind: string, path: string }> }>().entries.map((e) => `${e.kind} ${e.path}`)
  }
  t.same(await paths(''), ['heartbeat /cart', 'pageview /cart', 'request /missing', 'request /cart/items',
    'request /cart?x=1'], 'no filter: every entry, newest first')
  t.same(await paths('kind=request&status=5xx'), ['request /cart/items'])
  t.same(await paths('status=4xx,2xx'), ['request /missing', 'request /cart?x=1'])
  t.same(await paths('method=post'), ['request /cart/items'])
  t.same(await paths('kind=pageview,heartbeat&q=%2FCART'), ['heartbeat /cart', 'pageview /cart'])
  t.same(await paths('q=%2Fcart&kind=request'), ['request /cart/items', 'request /cart?x=1'])
  t.same(await paths('kind=error'), [], 'a filter that matches nothing is an empty log, not a 404')

  for (const [query, message] of [
    ['kind=bogus', /^querystring\/kind: unknown kind "bogus"/],
    ['status=600', /^querystring\/status: unknown class "600"/],
    ['method=G%20T', /^querystring\/method: "G T"/],
    [`q=${'x'.repeat(201)}`, /querystring\/q must NOT have more than 200 characters/],
    ['kind=request&kind=error', /querystring\/kind must be string/],
    ['nope=1', /must NOT have additional properties/]
  ] as const) {
    const res = await app.inject({ url: `/userlog/api/logs/dana?${query}`, headers: asAdmin })
    t.equal(res.statusCode, 400, query)
    t.match(res.json<{ message: string }>().message, message)
  }
  const denied = await app.inject({ url: '/userlog/api/logs/dana?kind=request', headers: asUser('dana') })
  t.equal(denied.statusCode, 403, 'a filter changes nothing about who may read')
})

t.test('active: each user has the presence their latest client events mean', async (t) => {
  await db.flushall()
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  t.equal(await post(app, 'erin', { type: 'pageview', path: '/items' }), 204)
  t.equal(await post(app, 'finn', [{ type: 'pageview', path: '/cart' }, { type: 'session_end', path: '/cart' }]), 204)
  await app.inject({ url: '/items/1', headers: asUser('gus') })
  await app.userlog.flush()
  // A page view of five minutes ago: quiet since, so gone since then plus GONE_MS.
  const old = Date.now() - presence.GONE_MS - 60_000
  const stale = { id: 'h1', t: old, user: 'hana', kind: 'pageview', src: 'client', path: '/old' }
  await db.lpush(keys.log('hana'), JSON.stringify(stale))
  await db.zadd(keys.usersIndex, String(Date.now()), 'hana')

  const res = await app.inject({ url: '/userlog/api/active?minutes=5', headers: asAdmin })
  t.equal(res.statusCode, 200)
  const byUser = new Map(res.json<{ users: Array<{ user: string, state: string | null, since: number | null }> }>()
    .users.map((u) => [u.user, u]))
  const erin = byUser.get('erin')
  t.equal(erin?.state, 'active', 'a fresh page view: active')
  t.ok(typeof erin?.since === 'number' && Math.abs(erin.since - Date.now()) < 10_000, 'since the page view')
  t.equal(byUser.get('finn')?.state, 'active', 'a leave just now may still be followed by the next page')
  t.match(byUser.get('gus'), { state: null, since: null }, 'server requests only: no presence')
  t.match(byUser.get('hana'), { state: 'gone', since: old + presence.GONE_MS })
})
