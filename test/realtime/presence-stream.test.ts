// The presence stream of the realtime server against a real redis-server: an all-users viewer
// asks for `"stream":"presence"` and gets a snapshot of who is on which page (seeded from Redis),
// then one message per change — never entries; a one-user grant is refused.
import t from 'tap'
import { RedisServer } from '../helpers/redis.js'
import { Client, entry, eventually, keys, mint, startServer, write, type Msg } from '../helpers/realtime.js'
import { presence } from '../../src/shared/view-rules.js'
import { readFirstMessage } from '../../src/realtime/index.js'

const redis = await RedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })
t.beforeEach(async () => { await db.flushall() })

const client = (user: string, kind: string, extra: Record<string, unknown> = {}): ReturnType<typeof entry> =>
  entry(user, { kind, src: 'client', method: undefined, status: undefined, ms: undefined, ...extra })

async function presenceViewer (url: string, token: string): Promise<Client> {
  const c = await Client.open(url)
  c.send({ token, stream: 'presence' })
  return c
}

const changes = (c: Client): Array<Record<string, unknown>> =>
  c.ofType('presence').filter((m) => m.snapshot !== true).flatMap((m) => m.users as Array<Record<string, unknown>>)

t.test('readFirstMessage: the stream asked for, entries unless presence', async (t) => {
  const token = 'a'.repeat(24)
  t.same(readFirstMessage(Buffer.from(JSON.stringify({ token })), false), { token, stream: 'entries' })
  t.same(readFirstMessage(Buffer.from(JSON.stringify({ token, stream: 'presence' })), false),
    { token, stream: 'presence' })
  t.same(readFirstMessage(Buffer.from(JSON.stringify({ token, stream: 'other' })), false),
    { token, stream: 'entries' })
  t.equal(readFirstMessage(Buffer.from(JSON.stringify({ stream: 'presence' })), false), null)
})

t.test('a snapshot seeded from Redis, then active → away (tab hidden) → gone (page left), live', async (t) => {
  const srv = await startServer({ redis: redis.url })
  t.teardown(() => srv.app.close())
  // Carol was on /cart a moment ago (seen in the users index and her log); dave only made a server request.
  const now = Date.now()
  await write(db, [client('carol', 'pageview', { path: '/cart', t: now - 2000 }), entry('dave')])
  await db.zadd(keys.usersIndex, now - 2000, 'carol', now, 'dave')

  const c = await presenceViewer(srv.url, await mint(db, '*'))
  t.teardown(() => c.close())
  await c.until((ms) => ms.some((m) => m.type === 'presence' && m.snapshot === true), 10_000, 'snapshot')
  t.same(c.messages[0], { type: 'hello', user: '*' })
  const snapshot = c.messages.find((m) => m.type === 'presence') as Msg
  t.same(snapshot.users, [{ user: 'carol', state: 'active', since: now - 2000, page: '/cart' }],
    'only users with client events, with their page and since when')

  const seen = client('alice', 'pageview', { path: '/items' })
  await write(db, [seen])
  await c.until(() => changes(c).some((u) => u.user === 'alice'), 10_000, 'alice active')
  t.match(changes(c).at(-1), { user: 'alice', state: 'active', page: '/items', since: seen.t })

  const hidden = client('alice', 'visibility', { path: '/items', state: 'hidden' })
  await write(db, [hidden])
  await c.until(() => changes(c).at(-1)?.state === 'away', 10_000, 'alice away')
  t.match(changes(c).at(-1), { user: 'alice', state: 'away', since: hidden.t })

  const left = client('alice', 'session_end', { path: '/items' })
  await write(db, [left])
  // Gone once the leave is LEAVE_GRACE_MS old with nothing after it: the clock alone moves her.
  await c.until(() => changes(c).at(-1)?.state === 'gone', presence.LEAVE_GRACE_MS + 5000, 'alice gone')
  t.match(changes(c).at(-1), { user: 'alice', state: 'gone', since: left.t })
  t.same(changes(c).map((u) => u.state), ['active', 'away', 'gone'], 'one message per change, none repeated')
  t.notOk(c.messages.some((m) => m.type === 'entries' || m.type === 'backlog'), 'never entries')
  t.notOk(changes(c).some((u) => u.user === 'dave'), 'server requests alone say nothing of presence')
})

t.test('several presence viewers share one stream; the last to leave stops it', async (t) => {
  const srv = await startServer({ redis: redis.url })
  t.teardown(() => srv.app.close())
  const a = await presenceViewer(srv.url, await mint(db, '*'))
  const b = await presenceViewer(srv.url, await mint(db, '*'))
  t.teardown(() => { a.close(); b.close() })
  for (const c of [a, b]) await c.until((ms) => ms.some((m) => m.snapshot === true), 10_000, 'snapshot')
  await write(db, [client('erin', 'heartbeat', { path: '/x' })])
  for (const c of [a, b]) await c.until(() => changes(c).length === 1, 10_000, 'erin active')
  t.same(changes(a), changes(b))
  t.equal(srv.app.userlogRealtime.stats().viewers, 1, 'two presence viewers, one follower of the all-users stream')
  a.close()
  await a.closed
  await write(db, [client('erin', 'session_end', { path: '/x' })])
  await b.until(() => changes(b).at(-1)?.state === 'gone', presence.LEAVE_GRACE_MS + 5000, 'erin gone')
  b.close()
  await b.closed
  await eventually(() => srv.app.userlogRealtime.stats().viewers === 0, 5000, 'its follower leaves with the last')
  t.equal(srv.app.userlogRealtime.stats().channels, 0, 'and unsubscribes')
})

t.test('after a lost subscriber connection, what the channel missed is read from Redis', async (t) => {
  const srv = await startServer({ redis: redis.url })
  t.teardown(() => srv.app.close())
  const c = await presenceViewer(srv.url, await mint(db, '*'))
  t.teardown(() => c.close())
  await c.until((ms) => ms.some((m) => m.snapshot === true), 10_000, 'snapshot')
  // Stored but never published, as an entry written while the subscriber was away would be.
  const missed = client('frank', 'pageview', { path: '/missed' })
  await db.lpush(keys.log('frank'), JSON.stringify(missed))
  await db.zadd(keys.usersIndex, missed.t, 'frank')
  await db.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
  await c.until(() => changes(c).some((u) => u.user === 'frank'), 15_000, 'frank after up')
  t.match(changes(c), [{ user: 'frank', state: 'active', page: '/missed' }])
  const statuses = c.ofType('status').map((m) => m.redis)
  t.same(statuses, ['down', 'up'], 'told of the outage and the recovery')
})

t.test('a one-user grant cannot open the presence stream', async (t) => {
  const srv = await startServer({ redis: redis.url })
  t.teardown(() => srv.app.close())
  const c = await presenceViewer(srv.url, await mint(db, 'alice'))
  const closed = await c.closed
  t.equal(closed.code, 4401)
  t.notOk(c.messages.some((m) => m.type === 'presence'))
})
