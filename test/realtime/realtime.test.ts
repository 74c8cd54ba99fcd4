// The realtime protocol against a real redis-server and real sockets: tokens, origins, hello /
// backlog / entries, the all-users stream, subscriptions, health and metrics.
import t from 'tap'
import { Redis } from 'ioredis'
import { RedisServer } from '../helpers/redis.js'
import {
  Client, entry, eventually, keys, mint, startServer, upgradeStatus, write, type TestEntry
} from '../helpers/realtime.js'
import {
  userlogRealtime, validateRealtimeOptions, readToken, checkOrigin, mergeSnapshot, RecentIds, type LiveEntry
} from '../../src/realtime/index.js'
import { unseen } from '../../src/realtime/entries.js'
import Fastify from 'fastify'

const redis = await RedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })
t.beforeEach(async () => { await db.flushall() })

t.test('hello, the backlog oldest first, then live entries', async (t) => {
  const srv = await startServer({ redis: redis.url })
  t.teardown(() => srv.app.close())
  const old = [entry('alice'), entry('alice'), entry('alice')]
  await write(db, old)
  const c = await Client.viewer(srv.url, await mint(db, 'alice'))
  t.teardown(() => c.close())
  await c.until((ms) => ms.some((m) => m.type === 'backlog'))
  t.same(c.messages[0], { type: 'hello', user: 'alice' })
  t.same(c.messages[1], { type: 'backlog', entries: old }, 'backlog oldest first, entries as stored')

  const fresh = [entry('alice'), entry('alice')]
  await write(db, [fresh[0] as TestEntry, entry('bob')])
  await write(db, [fresh[1] as TestEntry])
  await c.until(() => c.entries().length === 5)
  t.same(c.messages.slice(2), [{ type: 'entries', entries: [fresh[0]] }, { type: 'entries', entries: [fresh[1]] }],
    'only alice, in order')
  t.equal(srv.app.userlogRealtime.stats().viewers, 1)
})

t.test('a hostile user name streams from its encoded channel', async (t) => {
  const srv = await startServer({ redis: redis.url })
  t.teardown(() => srv.app.close())
  const user = 'a:b*c{d}?[e] f\u00e9'
  const c = await Client.viewer(srv.url, await mint(db, user))
  t.teardown(() => c.close())
  await c.until((ms) => ms.some((m) => m.type === 'backlog'))
  const e = entry(user, { path: '/<script>alert(1)</script>' })
  await write(db, [e])
  await c.until(() => c.entries().length === 1)
  t.same(c.entries(), [e])
  t.same(c.messages[0], { type: 'hello', user })
})

t.test('a token works once; unknown tokens are refused with 4401', async (t) => {
  const srv = await startServer({ redis: redis.url })
  t.teardown(() => srv.app.close())
  const token = await mint(db, 'alice')
  const first = await Client.viewer(srv.url, token)
  t.teardown(() => first.close())
  t.equal(await db.exists(keys.token(token)), 0, 'taken with GETDEL')

  const again = await Client.open(srv.url)
  again.send({ token })
  t.equal((await again.closed).code, 4401, 'reused token')
  t.same(again.messages, [], 'nothing sent before the refusal')

  const unknown = await Client.open(srv.url)
  unknown.send({ token: 'no-such-token' })
  t.equal((await unknown.closed).code, 4401, 'unknown token')

  await db.set(keys.token('broken'), 'not json', 'EX', 30)
  const broken = await Client.open(srv.url)
  broken.send({ token: 'broken' })
  t.equal((await broken.closed).code, 4401, 'malformed grant')

  t.equal(srv.app.userlogRealtime.stats().refused.token, 3)
})

t.test('no token within the time limit: 4408', async (t) => {
  const srv = await startServer({ redis: redis.url, authTimeoutMs: 100 })
  t.teardown(() => srv.app.close())
  const c = await Client.open(srv.url)
  t.equal((await c.closed).code, 4408)
  t.equal(srv.app.userlogRealtime.stats().refused.timeout, 1)
})

t.test('garbage as the first message: 4401, never a crash', async (t) => {
  const srv = await startServer({ redis: redis.url })
  t.teardown(() => srv.app.close())
  const token = await mint(db, 'alice')
  const bad: Array<string | Buffer> = [
    'not json', '[]', '"token"', 'null', '42', '{}', '{"token":5}', '{"token":""}', '{"token":null}',
    '{"token":["x"]}', '{"token":"has space"}', JSON.stringify({ token: 'x'.repeat(257) }),
    JSON.stringify({ token, pad: 'x'.repeat(5000) }), '{"token":"\u0000"}', '{"__proto__":{"token":"x"}}',
    Buffer.from(JSON.stringify({ token }))
  ]
  for (const msg of bad) {
    const c = await Client.open(srv.url)
    if (Buffer.isBuffer(msg)) c.ws.send(msg, { binary: true })
    else c.ws.send(msg)
    t.equal((await c.closed).code, 4401, `refused: ${String(msg).slice(0, 40)}`)
  }
  t.equal(srv.app.userlogRealtime.stats().refused.invalid, bad.length)
  t.equal(await db.exists(keys.token(token)), 1, 'the token inside a refused message was not consumed')
  const res = await fetch(`${srv.http}/healthz`)
  t.equal(res.status, 200, 'still serving')
  const ok = await Client.viewer(srv.url, token)
  ok.close()
})

t.test('origins: foreign pages get 403 at the upgrade, listed ones and non-browsers connect', async (t) => {
  const srv = await startServer({ redis: redis.url, origins: ['https://admin.example.com', 'http://localhost:3000'] })
  t.teardown(() => srv.app.close())
  t.equal(await upgradeStatus(srv.url, { origin: 'https://evil.example.net' }), 403)
  t.equal(await upgradeStatus(srv.url, { origin: 'https://admin.example.com.evil.net' }), 403)
  t.equal(await upgradeStatus(srv.url, { origin: 'null' }), 403)
  t.equal(await upgradeStatus(srv.url, { origin: 'https://admin.example.com' }), 101)
  t.equal(await upgradeStatus(srv.url, { origin: 'http://LOCALHOST:3000' }), 101, 'host compared case-insensitively')
  t.equal(await upgradeStatus(srv.url, {}), 101, 'no Origin: not a browser')
  t.equal(srv.app.userlogRealtime.stats().refused.origin, 3)
  const refusal = srv.logs.find((l) => l.msg.includes('refused a WebSocket upgrade'))
  t.match(refusal, { level: 40, userlog: { origin: 'https://evil.example.net', reason: /allow-list/ } }, 'logged with the reason')

  // Without an allow-list only same-host pages may connect.
  const same = await startServer({ redis: redis.url })
  t.teardown(() => same.app.close())
  const host = new URL(same.http).host
  t.equal(await upgradeStatus(same.url, { origin: `http://${host}` }), 101)
  t.equal(await upgradeStatus(same.url, { origin: 'http://elsewhere.example' }), 403)
})

t.test('checkOrigin and readToken', async (t) => {
  const none = new Set<string>()
  t.equal(checkOrigin('http://a.test:8080', 'a.test:8080', none), null)
  t.equal(checkOrigin('http://a.test', 'a.test:80', none), null, 'default port')
  t.match(checkOrigin('http://a.test:8081', 'a.test:8080', none), /cross-origin/)
  t.match(checkOrigin('http://a.test', undefined, none), /Host/)
  t.match(checkOrigin('not a url', 'a.test', none), /malformed/)
  t.match(checkOrigin('file:///x', 'a.test', none), /opaque/)
  t.match(checkOrigin('http://a.test', 'a b', none), /Host/)
  t.equal(checkOrigin('https://x.test', 'a.test', new Set(['https://x.test'])), null)
  t.equal(readToken(Buffer.from('{"token":"abc"}'), false), 'abc')
  t.equal(readToken([Buffer.from('{"tok'), Buffer.from('en":"abc"}')], false), 'abc', 'fragments')
  t.equal(readToken(Buffer.from('{"token":"abc"}'), true), null, 'binary')
})

t.test('the all-users stream: one subscription, an empty backlog, entries carry their user', async (t) => {
  const srv = await startServer({ redis: redis.url })
  t.teardown(() => srv.app.close())
  await write(db, [entry('alice')])
  const a = await Client.viewer(srv.url, await mint(db, '*'))
  const b = await Client.viewer(srv.url, await mint(db, '*'))
  t.teardown(() => { a.close(); b.close() })
  await a.until((ms) => ms.some((m) => m.type === 'backlog'))
  await b.until((ms) => ms.some((m) => m.type === 'backlog'))
  t.same(a.messages.slice(0, 2), [{ type: 'hello', user: '*' }, { type: 'backlog', entries: [] }])
  const batch = [entry('alice'), entry('bob'), entry('carol')]
  await write(db, batch)
  await a.until(() => a.entries().length === 3)
  await b.until(() => b.entries().length === 3)
  t.same(a.entries().map((e) => e.user), ['alice', 'bob', 'carol'])
  t.same(b.entries(), batch)
  const [, subscribers] = await db.pubsub('NUMSUB', keys.allChannel) as [string, number]
  t.equal(Number(subscribers), 1, 'one subscription for every all-users viewer')
  t.equal(srv.app.userlogRealtime.stats().channels, 1)
})

t.test('channels are subscribed while watched and unsubscribed after the last viewer leaves', async (t) => {
  const srv = await startServer({ redis: redis.url })
  t.teardown(() => srv.app.close())
  const numsub = async (user: string): Promise<number> =>
    Number((await db.pubsub('NUMSUB', keys.userChannel(user)) as [string, number])[1])
  const a1 = await Client.viewer(srv.url, await mint(db, 'alice'))
  const a2 = await Client.viewer(srv.url, await mint(db, 'alice'))
  const b1 = await Client.viewer(srv.url, await mint(db, 'bob'))
  await a2.until((ms) => ms.some((m) => m.type === 'backlog'))
  await b1.until((ms) => ms.some((m) => m.type === 'backlog'))
  t.equal(await numsub('alice'), 1, 'one subscription for two viewers')
  t.equal(await numsub('bob'), 1)
  const list = await db.client('LIST') as string
  t.equal(list.split('\n').filter((l) => /name=userlog-realtime/.test(l)).length, 2, 'two Redis connections for three viewers')

  a1.close()
  await eventually(() => srv.app.userlogRealtime.stats().viewers === 2)
  t.equal(await numsub('alice'), 1, 'still watched')
  a2.close()
  await eventually(async () => await numsub('alice') === 0, 5000, 'UNSUBSCRIBE')
  t.equal(await numsub('bob'), 1)
  t.equal(srv.app.userlogRealtime.stats().channels, 1)

  // Watching again subscribes again.
  const a3 = await Client.viewer(srv.url, await mint(db, 'alice'))
  t.teardown(() => { a3.close(); b1.close() })
  await a3.until((ms) => ms.some((m) => m.type === 'backlog'))
  const e = entry('alice')
  await write(db, [e])
  await a3.until(() => a3.entries().length === 1)
  t.equal(await numsub('alice'), 1)
})

t.test('no gap and no duplicate while entries are published as viewers join', async (t) => {
  const srv = await startServer({ redis: redis.url })
  t.teardown(() => srv.app.close())
  const total = 600
  const published: TestEntry[] = []
  const pub = new Redis(redis.url)
  t.teardown(() => pub.disconnect())
  let stop = false
  const writer = (async () => {
    let i = 0
    while (i < total && !stop) {
      const n = 1 + (i % 3)
      const batch: TestEntry[] = []
      for (let k = 0; k < n && i < total; k++, i++) batch.push(entry('alice', { n: i }))
      published.push(...batch)
      await write(pub, batch)
      if (i % 20 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
  })()
  const viewers: Client[] = []
  while (published.length < total - 50) {
    viewers.push(await Client.viewer(srv.url, await mint(db, 'alice')))
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  await writer
  stop = true
  t.teardown(() => { for (const v of viewers) v.close() })
  t.ok(viewers.length >= 3, `${viewers.length} viewers joined while writing`)
  for (const [i, v] of viewers.entries()) {
    await v.until(() => v.entries().at(-1)?.id === published.at(-1)?.id, 10_000, `viewer ${i} to reach the last entry`)
    const got = v.entries().map((e) => e.n as number)
    const first = got[0] as number
    t.same(got, Array.from({ length: total - first }, (_, k) => first + k),
      `viewer ${i}: every entry from #${first} exactly once, in order`)
    const backlog = v.ofType('backlog')[0]?.entries as TestEntry[]
    t.ok(backlog.length <= 100 || backlog.length > 0, 'backlog present')
  }
})

t.test('/healthz and /metrics', async (t) => {
  const srv = await startServer({ redis: redis.url })
  t.teardown(() => srv.app.close())
  await eventually(() => srv.app.userlogRealtime.hub.redisUp, 5000, 'Redis up')
  const c = await Client.viewer(srv.url, await mint(db, 'alice'))
  t.teardown(() => c.close())
  await c.until((ms) => ms.some((m) => m.type === 'backlog'))
  await write(db, [entry('alice'), entry('alice')])
  await c.until(() => c.entries().length === 2)
  const bad = await Client.open(srv.url)
  bad.send('nope')
  await bad.closed

  const health = await fetch(`${srv.http}/healthz`)
  t.equal(health.status, 200)
  t.same(await health.json(), { status: 'ok', redis: 'up', viewers: 1 })

  const res = await fetch(`${srv.http}/metrics`)
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  const text = await res.text()
  const value = (name: string): number => Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1])
  t.equal(value('userlog_realtime_viewers'), 1)
  t.equal(value('userlog_realtime_channels'), 1)
  t.equal(value('userlog_realtime_entries_delivered_total'), 2)
  t.equal(value('userlog_realtime_entries_dropped_total'), 0)
  t.equal(value('userlog_realtime_redis_up'), 1)
  t.equal(value('userlog_realtime_connections_refused_total{reason="invalid"}'), 1)
  t.equal(value('userlog_realtime_connections_refused_total{reason="origin"}'), 0)
  t.match(text, /# TYPE userlog_realtime_entries_delivered_total counter/)
  for (const line of text.trim().split('\n')) t.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{reason="\w+"\})? \d+)$/, 'exposition format')
})

t.test('options are validated with errors naming the option', async (t) => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ redis: 'http://x' }, /"redis"/],
    [{ redis: 42 }, /"redis"/],
    [{ prefix: 'a b' }, /"prefix"/],
    [{ path: 'live' }, /"path"/],
    [{ path: '/live/' }, /"path"/],
    [{ path: '/healthz' }, /"path"/],
    [{ origins: 'https://a.test' }, /"origins"/],
    [{ redisTls: 'ca.pem' }, /"redisTls" must be Node TLS options/],
    [{ origins: ['https://a.test/path'] }, /"origins"/],
    [{ origins: ['ftp://a.test'] }, /"origins"/],
    [{ maxBufferedBytes: 10 }, /"maxBufferedBytes"/],
    [{ stuckMs: 1.5 }, /"stuckMs"/],
    [{ pingIntervalMs: -1 }, /"pingIntervalMs"/],
    [{ authTimeoutMs: '5s' }, /"authTimeoutMs"/],
    [{ redisPingMs: 0 }, /"redisPingMs"/],
    [{ healthPath: 'x' }, /"healthPath"/],
    [{ nope: 1 }, /unknown option "nope"/]
  ]
  for (const [opts, re] of cases) t.throws(() => validateRealtimeOptions(opts), re, JSON.stringify(opts))
  const keyed = new Redis({ lazyConnect: true, keyPrefix: 'x:' })
  t.throws(() => validateRealtimeOptions({ redis: keyed }), /keyPrefix/)
  keyed.disconnect()
  t.same([...validateRealtimeOptions({ origins: ['https://A.test:443/'] }).origins], ['https://a.test'])

  const app = Fastify()
  await t.rejects(async () => { await app.register(userlogRealtime, { redis: redis.url, maxBufferedBytes: 'big' } as never) }, /"maxBufferedBytes"/)
  await app.close()
})

t.test('an ioredis instance is used for commands and never closed', async (t) => {
  const client = new Redis(redis.url)
  t.teardown(() => client.disconnect())
  const srv = await startServer({ redis: client, healthPath: '/rt/health', metricsPath: false })
  const c = await Client.viewer(srv.url, await mint(db, 'alice'))
  await c.until((ms) => ms.some((m) => m.type === 'backlog'))
  t.equal((await fetch(`${srv.http}/rt/health`)).status, 200)
  t.equal((await fetch(`${srv.http}/metrics`)).status, 404)
  const closed = c.closed
  await srv.app.close()
  t.equal((await closed).code, 1001, 'viewers are closed with 1001 on shutdown')
  t.equal(client.status, 'ready', 'the caller\'s client is still open')
  t.equal(await client.ping(), 'PONG')
})

t.test('untrusted live messages: unusable items are skipped, re-published entries are not sent twice', async (t) => {
  const srv = await startServer({ redis: redis.url })
  t.teardown(() => srv.app.close())
  const first = entry('alice')
  await write(db, [first])
  const c = await Client.viewer(srv.url, await mint(db, 'alice'))
  t.teardown(() => c.close())
  await c.until((ms) => ms.some((m) => m.type === 'backlog'))
  const channel = keys.userChannel('alice')
  const garbages = ['not json', '[1,"x",null]', '{"no":"id"}', '[]', '{"id":42}', `[{"id":"${'x'.repeat(300)}"}]`]
  for (const garbage of garbages) {
    await db.publish(channel, garbage)
  }
  const second = entry('alice')
  // An entry the viewer already has, next to a new one: only the new one goes out.
  await db.publish(channel, JSON.stringify([first, second]))
  const third = entry('alice')
  // A mix of usable and unusable items: the usable one is re-serialized and sent.
  await db.publish(channel, JSON.stringify([third, 'junk', { id: 7 }]))
  const single = entry('alice')
  await db.publish(channel, JSON.stringify(single))
  await c.until(() => c.entries().length === 4)
  t.same(c.entries(), [first, second, third, single])
  // (Messages arriving together may share a frame: see COALESCE_MS.)
  const frames = c.messages.slice(2)
  t.ok(frames.every((m) => m.type === 'entries'), 'only entries frames')
  t.same(frames.flatMap((m) => m.entries as unknown[]), [second, third, single], 'each new entry once, in order')
})

t.test('a log key that is not a list: no backlog, live entries still flow', async (t) => {
  const srv = await startServer({ redis: redis.url })
  t.teardown(() => srv.app.close())
  await db.set(keys.log('mallory'), 'not a list')
  const c = await Client.viewer(srv.url, await mint(db, 'mallory'))
  t.teardown(() => c.close())
  await c.until((ms) => ms.some((m) => m.type === 'backlog'))
  t.same(c.ofType('backlog'), [{ type: 'backlog', entries: [] }])
  const e = entry('mallory')
  await db.publish(keys.userChannel('mallory'), JSON.stringify([e]))
  await c.until(() => c.entries().length === 1)
  t.same(c.entries(), [e])
  t.match(srv.logs.find((l) => l.msg.includes('could not be read')), { level: 40 })
})

t.test('a list with unusable items yields the usable ones', async (t) => {
  const srv = await startServer({ redis: redis.url })
  t.teardown(() => srv.app.close())
  const good = entry('zoe')
  await db.lpush(keys.log('zoe'), 'not json', JSON.stringify(good), '{"id":1}', '[]')
  const c = await Client.viewer(srv.url, await mint(db, 'zoe'))
  t.teardown(() => c.close())
  await c.until((ms) => ms.some((m) => m.type === 'backlog'))
  t.same(c.ofType('backlog'), [{ type: 'backlog', entries: [good] }])
})

t.test('mergeSnapshot, unseen and RecentIds', async (t) => {
  const e = (n: number): LiveEntry => ({ id: `i${n}` })
  const ids = (es: LiveEntry[]): string[] => es.map((x) => x.id)
  // The list was read with a cap of 3 while 1..6 were published: 1 and 2 were trimmed, 6 came after.
  let m = mergeSnapshot([e(3), e(4), e(5)], [e(1), e(2), e(3), e(4), e(5), e(6)])
  t.same([ids(m.backlog), ids(m.live)], [['i1', 'i2', 'i3', 'i4', 'i5'], ['i6']], 'trimmed entries go first, none lost')
  m = mergeSnapshot([e(3), e(4), e(5)], [e(5), e(6), e(6)])
  t.same([ids(m.backlog), ids(m.live)], [['i3', 'i4', 'i5'], ['i6']], 'listed ones not twice, duplicates dropped')
  m = mergeSnapshot([], [e(1), e(2)])
  t.same([ids(m.backlog), ids(m.live)], [[], ['i1', 'i2']])
  m = mergeSnapshot([e(1), e(1)], [])
  t.same(ids(m.backlog), ['i1'])

  const seen = new RecentIds(3)
  seen.addAll([e(1), e(2), e(3), e(4)])
  t.equal(seen.size, 3)
  t.notOk(seen.has('i1'), 'the oldest is forgotten')
  t.ok(seen.has('i4'))
  t.same(ids(unseen([e(1), e(2), e(3), e(4), e(5), e(6)], seen)), ['i5', 'i6'], 'only what follows the last one it had')
  t.same(ids(unseen([e(7), e(8)], seen)), ['i7', 'i8'])
})

t.test('a lazyConnect ioredis instance works too', async (t) => {
  const client = new Redis(redis.url, { lazyConnect: true })
  t.teardown(() => client.disconnect())
  const srv = await startServer({ redis: client })
  t.teardown(() => srv.app.close())
  t.notOk(srv.logs.some((l) => l.msg.includes('not reachable')), 'start-up did not wait for it')
  const c = await Client.viewer(srv.url, await mint(db, 'alice'))
  t.teardown(() => c.close())
  await c.until((ms) => ms.some((m) => m.type === 'backlog'))
  const e = entry('alice')
  await write(db, [e])
  await c.until(() => c.entries().length === 1)
  t.same(c.entries(), [e])
})

t.test('registering the realtime plugin twice on one instance fails with its code', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(userlogRealtime, { redis: redis.url, healthPath: false, metricsPath: false })
  await t.rejects(async () => { await app.register(userlogRealtime, { redis: redis.url }).ready() },
    { code: 'FST_USERLOG_ALREADY_REGISTERED', message: /userlog realtime has already been registered/ })
})
