// The realtime server when Redis goes away: killed and restarted, frozen (SIGSTOP), or only the
// subscriber connection cut. Viewers are told, kept, resubscribed, and sent what they missed once.
import t from 'tap'
import { Redis } from 'ioredis'
import { RedisServer } from '../helpers/redis.js'
import { Client, entry, eventually, mint, startServer, write, type Msg } from '../helpers/realtime.js'

const redis = await RedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })
t.beforeEach(async () => { await db.flushall() })

const statuses = (c: Client): string[] => c.ofType('status').map((m: Msg) => m.redis as string)

t.test('Redis killed and restarted: status down, then up, and delivery resumes', async (t) => {
  const srv = await startServer({ redis: redis.url, redisPingMs: 100 })
  t.teardown(() => srv.app.close())
  const alice = await Client.viewer(srv.url, await mint(db, 'alice'))
  const all = await Client.viewer(srv.url, await mint(db, '*'))
  t.teardown(() => { alice.close(); all.close() })
  await alice.until((ms) => ms.some((m) => m.type === 'backlog'))
  await all.until((ms) => ms.some((m) => m.type === 'backlog'))
  const before = entry('alice')
  await write(db, [before])
  await alice.until(() => alice.entries().length === 1)

  await redis.kill()
  await alice.until(() => statuses(alice).includes('down'), 10_000, 'status down')
  await all.until(() => statuses(all).includes('down'), 10_000, 'status down (all users)')
  t.equal(srv.app.userlogRealtime.hub.redisUp, false)
  const health = await (await fetch(`${srv.http}/healthz`)).json() as { status: string, redis: string }
  t.same(health, { status: 'degraded', redis: 'down', viewers: 2 }, 'healthz reports it and still answers 200')

  await redis.spawn()
  await alice.until(() => statuses(alice).includes('up'), 10_000, 'status up')
  await all.until(() => statuses(all).includes('up'), 10_000, 'status up (all users)')
  t.same(statuses(alice), ['down', 'up'])
  const after = [entry('alice'), entry('alice')]
  await write(db, after)
  await alice.until(() => alice.entries().length === 3, 10_000, 'entries after the restart')
  await all.until(() => all.entries().length === 3, 10_000, 'entries after the restart (all users)')
  t.same(alice.entries(), [before, ...after], 'nothing doubled by the resync')
  t.equal(srv.app.userlogRealtime.stats().channels, 2)
})

t.test('the subscriber alone is cut: entries published meanwhile are re-read and sent once', async (t) => {
  const srv = await startServer({ redis: redis.url, redisPingMs: 100 })
  t.teardown(() => srv.app.close())
  const c = await Client.viewer(srv.url, await mint(db, 'alice'))
  t.teardown(() => c.close())
  const backlog = [entry('alice'), entry('alice')]
  await write(db, backlog)
  await c.until(() => c.entries().length === 2)

  const killed = await db.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
  t.equal(killed, 1, 'one subscriber connection for the whole process')
  const missed = [entry('alice'), entry('alice'), entry('alice')]
  await write(db, missed.slice(0, 2))
  await write(db, missed.slice(2))
  await c.until(() => statuses(c).includes('up'), 10_000, 'status up')
  await c.until(() => c.entries().length === 5, 10_000, 'the missed entries')
  const later = entry('alice')
  await write(db, [later])
  await c.until(() => c.entries().length === 6, 10_000, 'live again')
  t.same(c.entries(), [...backlog, ...missed, later], 'every entry exactly once, in order')
  const kinds = c.messages.map((m) => m.type)
  t.ok(kinds.indexOf('status') < kinds.lastIndexOf('entries'), 'status before the resent entries')
})

t.test('a frozen Redis (SIGSTOP) is noticed by PING; thawed, delivery resumes', async (t) => {
  const srv = await startServer({ redis: redis.url, redisPingMs: 100, commandTimeoutMs: 300 })
  t.teardown(() => srv.app.close())
  const c = await Client.viewer(srv.url, await mint(db, 'alice'))
  t.teardown(() => c.close())
  await c.until((ms) => ms.some((m) => m.type === 'backlog'))
  const token = await mint(db, 'alice')

  redis.freeze()
  let thawed = false
  t.teardown(() => { if (!thawed) redis.thaw() })
  await c.until(() => statuses(c).includes('down'), 10_000, 'status down')
  // A token cannot be checked now: the connection is refused quickly, it does not hang.
  const late = await Client.open(srv.url)
  late.send({ token })
  t.equal((await late.closed).code, 1013, 'try again later')
  t.equal(srv.app.userlogRealtime.stats().refused.redis, 1)
  // Long enough for the hub to give up on the connection and reconnect to the frozen server.
  await new Promise((resolve) => setTimeout(resolve, 600))
  redis.thaw()
  thawed = true

  await c.until(() => statuses(c).includes('up'), 15_000, 'status up')
  const e = entry('alice')
  await write(db, [e])
  await c.until(() => c.entries().length === 1, 10_000, 'delivery after the thaw')
  t.same(c.entries(), [e])
  t.same(statuses(c), ['down', 'up'])
  await eventually(() => srv.app.userlogRealtime.hub.redisUp, 5000, 'redisUp')
  t.equal(srv.app.userlogRealtime.stats().viewers, 1, 'the viewer was kept all along')
})

t.test('the server starts while Redis is down and catches up when it comes', async (t) => {
  await redis.kill()
  let restarted = false
  t.teardown(async () => { if (!restarted) await redis.spawn() })
  const srv = await startServer({ redis: redis.url, redisPingMs: 100 })
  t.teardown(() => srv.app.close())
  t.match(srv.logs.find((l) => l.msg.includes('not reachable yet')), { level: 40 })
  t.equal((await (await fetch(`${srv.http}/healthz`)).json() as { redis: string }).redis, 'down')
  await redis.spawn()
  restarted = true
  await eventually(() => srv.app.userlogRealtime.hub.redisUp, 10_000, 'Redis up')
  const c = await Client.viewer(srv.url, await mint(db, 'bob'))
  t.teardown(() => c.close())
  await write(db, [entry('bob')])
  await c.until(() => c.entries().length === 1)
  t.pass('streams once Redis is there')
})

t.test('RESP2 (protocol: 2): the same stream, and the same catch-up after a cut', async (t) => {
  const client = new Redis(redis.url, { protocol: 2 })
  t.teardown(() => client.disconnect())
  const srv = await startServer({ redis: client, redisPingMs: 100 })
  t.teardown(() => srv.app.close())
  const first = entry('alice')
  await write(db, [first])
  const c = await Client.viewer(srv.url, await mint(db, 'alice'))
  t.teardown(() => c.close())
  await c.until(() => c.entries().length === 1)
  await eventually(() => srv.app.userlogRealtime.hub.redisUp, 5000, 'up')
  const sub = (await db.client('LIST') as string).split('\n').find((l) => l.includes('name=userlog-realtime-sub'))
  t.match(sub, /resp=2/, 'the subscriber speaks RESP2')
  // A few PINGs in subscriber mode (RESP2 allows only PING and (UN)SUBSCRIBE there) must not mark Redis down.
  await new Promise((resolve) => setTimeout(resolve, 350))
  t.same(statuses(c), [], 'PING works on a RESP2 subscriber')
  t.equal(await db.call('CLIENT', 'KILL', 'TYPE', 'pubsub'), 1)
  const missed = entry('alice')
  await write(db, [missed])
  await c.until(() => c.entries().length === 2, 10_000, 'the missed entry')
  const live = entry('alice')
  await write(db, [live])
  await c.until(() => c.entries().length === 3, 10_000, 'live again')
  t.same(c.entries(), [first, missed, live])
  t.same(statuses(c), ['down', 'up'])
})
