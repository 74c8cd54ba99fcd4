// The authorization matrix: every route the plugin adds, found with an onRoute hook (so a new route
// cannot be forgotten here), against anonymous, non-admin, cross-origin and admin callers; then the
// realtime server against missing, unknown, expired, reused and other users' tokens and a foreign
// Origin. Real servers on loopback, a real redis-server.
import t from 'tap'
import Fastify, { type RouteOptions } from 'fastify'
import type { AddressInfo } from 'node:net'
import { RedisServer } from '../helpers/redis.js'
import { asUser, userFromHeader } from '../helpers/app.js'
import { Client, keys, startServer, upgradeStatus, eventually } from '../helpers/realtime.js'
import { userlog } from '../../src/index.js'

const redis = await RedisServer.start()
const db = redis.client()

const routes: Array<{ method: string, url: string }> = []
const app = Fastify()
app.addHook('onRoute', (r: RouteOptions) => {
  for (const method of [r.method].flat()) routes.push({ method, url: r.url })
})
await app.register(userlog, {
  redis: redis.url,
  getUser: userFromHeader,
  isAdmin: (req) => userFromHeader(req) === 'admin',
  realtimeUrl: 'ws://127.0.0.1:1/live'
})
app.get('/*', async () => 'page')
await app.listen({ port: 0, host: '127.0.0.1' })
const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
t.teardown(async () => { await app.close(); db.disconnect(); await redis.stop() })

const MARKER = '/secret-page-of-alice'
await fetch(base + MARKER, { headers: asUser('alice') })
await fetch(base + '/bob-was-here', { headers: asUser('bob') })
await app.userlog.flush()

const ownRoutes = routes.filter((r) => r.url.startsWith('/userlog'))
const PUBLIC = ['GET /userlog/tracker.js', 'HEAD /userlog/tracker.js', 'POST /userlog/events']
const isPublic = (r: { method: string, url: string }): boolean => PUBLIC.includes(`${r.method} ${r.url}`)
const isApi = (r: { url: string }): boolean => r.url.startsWith('/userlog/api/')

/** A concrete request for a route pattern: wildcards and parameters name alice. */
function requestFor (r: { method: string, url: string }): { url: string, body?: string } {
  const url = r.url.replace(/\*$/, r.url.includes('/assets/') ? 'main.js' : 'alice').replace(/:[^/]+/g, 'alice')
  if (r.method === 'POST' && url === '/userlog/api/token') return { url, body: JSON.stringify({ user: 'alice' }) }
  return { url }
}

async function call (
  r: { method: string, url: string }, headers: Record<string, string>
): Promise<{ status: number, body: string }> {
  const { url, body } = requestFor(r)
  const res = await fetch(base + url, {
    method: r.method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    body,
    redirect: 'manual'
  })
  return { status: res.status, body: await res.text() }
}

t.test('the plugin adds exactly two public routes; the rest are its admin page and API', async (t) => {
  t.same(ownRoutes.filter(isPublic).map((r) => `${r.method} ${r.url}`).sort(), [...PUBLIC].sort())
  t.ok(ownRoutes.filter(isApi).length >= 10, `${ownRoutes.filter(isApi).length} API routes found`)
  t.ok(ownRoutes.some((r) => r.url === '/userlog/' && r.method === 'GET'), 'the admin page')
  t.ok(ownRoutes.every((r) => r.url.startsWith('/userlog/') || r.url === '/userlog'), 'all under the route prefix')
})

const callers: Array<[string, Record<string, string>, (r: { url: string }) => number | null]> = [
  ['anonymous', {}, () => 403],
  ['a signed-in non-admin', asUser('bob'), () => 403],
  ['a non-admin with a forged x-admin header', { ...asUser('bob'), 'x-admin': 'true' }, () => 403],
  // The admin's own cookie carried by another site's page: the API refuses, the page may be linked to.
  ['the admin, from a foreign Origin', { ...asUser('admin'), origin: 'https://evil.example' }, (r) => isApi(r) ? 403 : null],
  ['the admin, cross-site without an Origin', { ...asUser('admin'), 'sec-fetch-site': 'cross-site' },
    (r) => isApi(r) ? 403 : null],
  ['the admin, from an Origin of the same site but another port', { ...asUser('admin'), origin: 'http://127.0.0.1:1' }, (r) => isApi(r) ? 403 : null]
]

for (const [who, headers, expected] of callers) {
  t.test(`every admin route refuses ${who}`, async (t) => {
    let refused = 0
    for (const r of ownRoutes.filter((r) => !isPublic(r))) {
      const want = expected(r)
      const res = await call(r, headers)
      if (want === null) {
        t.not(res.status, 403, `${r.method} ${r.url} answers a page navigation`)
        continue
      }
      refused++
      t.equal(res.status, want, `${r.method} ${r.url}`)
      t.notMatch(res.body, /secret-page-of-alice|bob-was-here/, `${r.method} ${r.url}: no data in the refusal`)
    }
    t.ok(refused > 0)
    t.equal(await db.llen(keys.log('alice')), 1, 'nothing erased by a refused DELETE')
    t.equal((await db.keys(keys.token('*'))).length, 0, 'no live-view grant minted by a refused POST')
  })
}

t.test('the admin, from the page itself, reaches every route (2xx or a 4xx about the input)', async (t) => {
  for (const r of ownRoutes.filter((r) => !isPublic(r) && r.method !== 'DELETE')) {
    const res = await call(r, { ...asUser('admin'), 'sec-fetch-site': 'same-origin' })
    t.ok(res.status < 400 || (res.status >= 400 && res.status < 500 && res.status !== 403),
      `${r.method} ${r.url}: ${res.status}`)
  }
  const same = await fetch(`${base}/userlog/api/logs/alice`, { headers: { ...asUser('admin'), origin: base } })
  t.equal(same.status, 200, 'an Origin equal to the page\'s own is allowed')
  t.match(await same.text(), /secret-page-of-alice/)
  await db.del(await db.keys(keys.token('*')))
})

t.test('the realtime server: no token, unknown, expired, reused, another user\'s, foreign Origin', async (t) => {
  const srv = await startServer({ redis: redis.url, origins: [base], authTimeoutMs: 300 })
  t.teardown(() => srv.app.close())
  const mint = async (user: string): Promise<string> => {
    const res = await fetch(`${base}/userlog/api/token`, {
      method: 'POST',
      headers: { ...asUser('admin'), origin: base, 'content-type': 'application/json' },
      body: JSON.stringify({ user })
    })
    t.equal(res.status, 200)
    return ((await res.json()) as { token: string }).token
  }

  const silent = await Client.open(srv.url)
  t.equal((await silent.closed).code, 4408, 'no token in time')

  const unknown = await Client.open(srv.url)
  unknown.send({ token: 'A'.repeat(24) })
  t.equal((await unknown.closed).code, 4401, 'unknown token')

  const expiring = await mint('alice')
  await db.pexpire(keys.token(expiring), 1)
  await eventually(async () => await db.exists(keys.token(expiring)) === 0, 2000, 'the grant to expire')
  const late = await Client.open(srv.url)
  late.send({ token: expiring })
  t.equal((await late.closed).code, 4401, 'expired token')

  const token = await mint('alice')
  const alice = await Client.viewer(srv.url, token)
  t.teardown(() => alice.close())
  t.same(alice.messages[0], { type: 'hello', user: 'alice' }, 'the grant names its user')
  const again = await Client.open(srv.url)
  again.send({ token })
  t.equal((await again.closed).code, 4401, 'reused token')
  t.same(again.messages, [], 'nothing before the refusal')

  // Bound to alice: bob's requests never reach her viewer, hers do.
  await alice.until((ms) => ms.some((m) => m.type === 'backlog'))
  await fetch(`${base}/bob-live`, { headers: asUser('bob') })
  await fetch(`${base}/alice-live`, { headers: asUser('alice') })
  await app.userlog.flush()
  await alice.until(() => alice.entries().some((e) => e.path === '/alice-live'))
  t.notOk(alice.entries().some((e) => e.user !== 'alice'), 'only alice\'s entries')

  // A token cannot be turned into another user's by editing the first message.
  const forged = await Client.open(srv.url)
  forged.send({ token: await mint('alice'), user: 'bob' })
  await forged.until((ms) => ms.some((m) => m.type === 'hello') || forged.closeInfo !== null)
  t.equal(forged.messages[0]?.user, 'alice', 'extra fields in the first message are ignored')
  forged.close()

  t.equal(await upgradeStatus(srv.url, { origin: 'https://evil.example' }), 403, 'foreign Origin')
  t.equal(await upgradeStatus(srv.url, { origin: base }), 101, 'the admin page\'s Origin')
  const stats = srv.app.userlogRealtime.stats()
  t.match(stats.refused, { timeout: 1, token: 3, origin: 1 })
})
