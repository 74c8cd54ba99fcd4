// End to end: the request-logging plugin writes and publishes, its admin API mints a token, the
// realtime server streams. Checks that both sides agree on keys, channels and message shapes.
import t from 'tap'
import { RedisServer } from '../helpers/redis.js'
import { asAdmin, asUser, buildApp } from '../helpers/app.js'
import { Client, startServer } from '../helpers/realtime.js'

const redis = await RedisServer.start()
t.teardown(() => redis.stop())

t.test('requests of a user reach a live viewer: backlog first, then each new request once', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  const rt = await startServer({ redis: redis.url })
  t.teardown(() => rt.app.close())

  const user = 'al:ice {x}'
  await app.inject({ url: '/items/1', headers: asUser(user) })
  await app.userlog.flush()

  const grant = await app.inject({
    method: 'POST',
    url: '/userlog/api/token',
    headers: { ...asAdmin, 'content-type': 'application/json' },
    payload: { user }
  })
  t.equal(grant.statusCode, 200)
  const { token } = grant.json<{ token: string }>()
  const c = await Client.viewer(rt.url, token)
  t.teardown(() => c.close())
  await c.until((ms) => ms.some((m) => m.type === 'backlog'))
  t.same(c.messages[0], { type: 'hello', user })
  t.match(c.entries(), [{ user, kind: 'request', method: 'GET', path: '/items/1', route: '/items/:id', status: 200 }])

  await app.inject({ url: '/items/2', headers: asUser(user) })
  await app.inject({ url: '/items/3', headers: asUser('someone else') })
  await app.inject({ url: '/items/4', headers: asUser(user) })
  await app.userlog.flush()
  await c.until(() => c.entries().length === 3)
  t.same(c.entries().map((e) => e.path), ['/items/1', '/items/2', '/items/4'])

  // The token was single use.
  const again = await Client.open(rt.url)
  again.send({ token })
  t.equal((await again.closed).code, 4401)
})

t.test('the all-users grant streams every user with a user field', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  const rt = await startServer({ redis: redis.url })
  t.teardown(() => rt.app.close())
  const grant = await app.inject({
    method: 'POST',
    url: '/userlog/api/token',
    headers: { ...asAdmin, 'content-type': 'application/json' },
    payload: { user: '*' }
  })
  const c = await Client.viewer(rt.url, grant.json<{ token: string }>().token)
  t.teardown(() => c.close())
  await c.until((ms) => ms.some((m) => m.type === 'backlog'))
  t.same(c.messages.slice(0, 2), [{ type: 'hello', user: '*' }, { type: 'backlog', entries: [] }])
  await app.inject({ url: '/hello', headers: asUser('u1') })
  await app.inject({ url: '/hello', headers: asUser('u2') })
  await app.userlog.flush()
  await c.until(() => c.entries().length === 2)
  t.same(c.entries().map((e) => e.user).sort(), ['u1', 'u2'])
})
