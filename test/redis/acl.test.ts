// The smallest Redis ACLs each part needs, as docs/production.md documents them, held against a
// real redis-server: under them every route of the plugin and the realtime server works and Redis
// logs no denial (ACL LOG); a user missing a permission gets an error that says so.
import t from 'tap'
import Fastify, { type RouteOptions } from 'fastify'
import { RedisServer } from '../helpers/redis.js'
import { asAdmin, asUser, buildApp, userFromHeader } from '../helpers/app.js'
import { Client, eventually, startServer } from '../helpers/realtime.js'
import { userlog } from '../../src/index.js'
import { PLUGIN_ACL, REALTIME_ACL } from '../../src/shared/acl.js'

const redis = await RedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })

await db.call('ACL', 'SETUSER', 'app', 'reset', 'on', '>app-secret', ...PLUGIN_ACL('userlog').split(' '))
await db.call('ACL', 'SETUSER', 'live', 'reset', 'on', '>live-secret', ...REALTIME_ACL('userlog').split(' '))
const appUrl = `redis://app:app-secret@127.0.0.1:${redis.port}`
const liveUrl = `redis://live:live-secret@127.0.0.1:${redis.port}`

async function denials (): Promise<string[]> {
  const log = await db.call('ACL', 'LOG') as unknown[][]
  return log.map((e) => JSON.stringify(e))
}

t.test('the plugin under its ACL: requests, events and every admin route; no denial', async (t) => {
  await db.call('ACL', 'LOG', 'RESET')
  const app = Fastify()
  const routes: Array<{ method: string, url: string }> = []
  app.addHook('onRoute', (r: RouteOptions) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url })
  })
  await app.register(userlog, {
    redis: appUrl,
    getUser: userFromHeader,
    isAdmin: (req) => userFromHeader(req) === 'admin',
    anonymizeSecret: 'x'.repeat(16)
  })
  app.get('/hello', async () => 'hi')
  await app.ready()
  t.teardown(() => app.close())
  t.equal((await app.inject({ url: '/hello', headers: asUser('alice') })).statusCode, 200)
  const events = await app.inject({
    method: 'POST', url: '/userlog/events', headers: { ...asUser('alice'), 'content-type': 'application/json' },
    payload: JSON.stringify({ type: 'pageview', path: '/hello' })
  })
  t.equal(events.statusCode, 204)
  await app.userlog.flush()
  t.equal(app.userlog.stats().written, 2)
  for (const r of routes.filter((x) => x.url.startsWith('/userlog/api/') && x.method !== 'HEAD')) {
    const url = r.url.replace(/\*$/, 'alice')
    const body = url.endsWith('/token')
      ? { payload: JSON.stringify({ user: 'alice' }), headers: { ...asAdmin, 'content-type': 'application/json' } }
      : { headers: asAdmin }
    if (r.method === 'DELETE') continue // erased last, below
    const res = await app.inject({ method: r.method as 'GET', url, ...body })
    t.ok(res.statusCode < 500, `${r.method} ${url}: ${res.statusCode}`)
  }
  for (const url of ['/userlog/api/logs/alice/export?format=csv', '/userlog/api/export?format=ndjson&anonymize=true']) {
    t.equal((await app.inject({ url, headers: asAdmin })).statusCode, 200, url)
  }
  t.equal((await app.inject({ method: 'DELETE', url: '/userlog/api/users/alice', headers: asAdmin })).statusCode, 204)
  t.same(await denials(), [], 'Redis refused nothing')
})

t.test('the realtime server under its ACL streams a user written by the plugin; no denial', async (t) => {
  await db.call('ACL', 'LOG', 'RESET')
  const { app } = await buildApp({ redis: appUrl })
  t.teardown(() => app.close())
  const srv = await startServer({ redis: liveUrl })
  t.teardown(() => srv.app.close())
  await eventually(() => srv.app.userlogRealtime.hub.redisUp, 5000, 'connected')
  const token = JSON.parse((await app.inject({
    method: 'POST', url: '/userlog/api/token', headers: { ...asAdmin, 'content-type': 'application/json' },
    payload: JSON.stringify({ user: 'bob' })
  })).body) as { token: string }
  const c = await Client.viewer(srv.url, token.token)
  t.teardown(() => c.close())
  await c.until((ms) => ms.some((m) => m.type === 'backlog'))
  await app.inject({ url: '/hello', headers: asUser('bob') })
  await app.userlog.flush()
  await c.until(() => c.entries().some((e) => e.path === '/hello'), 5000, 'the live entry')
  t.same(await denials(), [], 'Redis refused nothing')
})

t.test('a writer without the right to run scripts: one error that names the permission', async (t) => {
  await db.call('ACL', 'SETUSER', 'weak', 'reset', 'on', '>weak-secret', '~userlog:*', '+@connection', '+info', '+ping')
  const { app, logs } = await buildApp({ redis: `redis://weak:weak-secret@127.0.0.1:${redis.port}` })
  t.teardown(() => app.close())
  t.equal((await app.inject({ url: '/hello', headers: asUser('carl') })).statusCode, 200, 'the host still answers')
  await app.userlog.flush()
  await eventually(() => logs.some((l) => /NOPERM/.test(String(l.msg))), 5000, 'the error')
  const error = logs.find((l) => /NOPERM/.test(String(l.msg)))
  t.match(error, { level: 50, msg: /Redis refused the write.*permission|NOPERM.*evalsha/i })
  t.equal(logs.filter((l) => /NOPERM/.test(String(l.msg))).length, 1, 'said once, not per retry')
})
