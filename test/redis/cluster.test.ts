// The plugin on a real three-node Redis Cluster: per-slot writes, sharded live channels, reads,
// erasure on the owning node, and a node restart survived.
import t from 'tap'
import calculateSlot from 'cluster-key-slot'
import { Cluster } from 'ioredis'
import { setTimeout as sleep } from 'node:timers/promises'
import { RedisCluster } from '../helpers/cluster.js'
import { buildApp, asUser, asAdmin } from '../helpers/app.js'
import { Keys, ALL_SHARDS } from '../../src/shared/keys.js'
import { validateOptions } from '../../src/options.js'
import { parseSeeds } from '../../src/shared/redis.js'
import { buildSlotCalls, groupByNode, isSlotMapError, markerTag, nodeCall } from '../../src/write/batch.js'
import { NODE_WRITE_SCRIPT, SLOT_WRITE_SCRIPT } from '../../src/write/script.js'

const rc = await RedisCluster.start()
const db = rc.client()
await new Promise((resolve) => { if (db.status === 'ready') resolve(null); else db.once('ready', resolve) })
t.teardown(async () => { db.disconnect(); await rc.stop() })
const keys = new Keys('userlog')
const USERS = Array.from({ length: 49 }, (_, i) => `user${i}`).concat(['a:b*c{d}?[e] f'])
const MAX = 5

async function keysOnEveryNode (match: string): Promise<string[]> {
  const out: string[] = []
  for (const node of db.nodes('master')) {
    let cursor = '0'
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', match, 'COUNT', 1000)
      cursor = next
      out.push(...found)
    } while (cursor !== '0')
  }
  return out
}

async function until (what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return
    await sleep(50)
  }
  throw new Error(`timed out waiting for ${what}`)
}

t.test('the redis option: a comma-separated list of seeds is a cluster, validated', async (t) => {
  t.same(parseSeeds('redis://10.0.0.1:7000, redis://h2,redis://[::1]:7002'), {
    nodes: [{ host: '10.0.0.1', port: 7000 }, { host: 'h2', port: 6379 }, { host: '::1', port: 7002 }],
    tls: false,
    username: undefined,
    password: undefined
  })
  t.same(parseSeeds('rediss://u:p%40ss@h1:7000,rediss://h2:7000'), {
    nodes: [{ host: 'h1', port: 7000 }, { host: 'h2', port: 7000 }], tls: true, username: 'u', password: 'p@ss'
  })
  t.equal(parseSeeds('redis://:pa,ss@h1:6379'), null, 'a comma inside one URL is not a separator')
  t.equal(validateOptions({ redis: 'redis://:pa,ss@h1:6379' }).redis, 'redis://:pa,ss@h1:6379')
  for (const [bad, reason] of [
    ['redis://h1:7000,redis://h2:7000,', /empty seed/],
    ['redis://h1:7000,,redis://h2:7000', /empty seed|not a redis/],
    ['redis://h1:7000,rediss://h2:7000', /mix redis:\/\/ and rediss:\/\//],
    ['redis://h1:7000/2,redis://h2:7000', /database/],
    ['redis://h1:7000?db=1,redis://h2:7000', /query/],
    ['redis://h1:x,redis://h2:7000', /not a redis/]
  ] as const) {
    t.throws(() => validateOptions({ redis: bad }), { code: 'FST_USERLOG_OPTION', message: reason }, bad)
    t.throws(() => validateOptions({ redis: bad }), { message: /option "redis" must be .*comma-separated cluster seed URLs/ })
  }
})

t.test('a batch is split into one call per hash slot, each with a marker in its slot', async (t) => {
  const entries = USERS.map((user, i) => ({ id: String(i), t: 1, user, kind: 'request', path: '/p' }))
  const { calls } = buildSlotCalls('w', 1, entries, { keys, maxEntries: MAX, ttl: 60, indexCap: 10, publish: true }, [
    (entry, ops) => {
      ops.hincrby(keys.stats('2026-01-01', 'totals'), 'requests', 1)
      ops.hset(keys.sessions(entry.user), 's', '1')
    }
  ], 1)
  const slots = new Set([keys.usersIndex, keys.stats('d', 'x'), ...USERS.map((u) => keys.log(u))]
    .map((k) => calculateSlot(k)))
  t.equal(calls.length, slots.size, 'one call per slot touched')
  for (const call of calls) {
    t.ok(call.keys.values.every((k) => calculateSlot(k) === call.slot), 'every key of a call is in its slot')
    t.equal(call.keys.values[0], `userlog:{${markerTag(call.slot)}}:writer:w`)
    t.equal(call.shard, call.slot % ALL_SHARDS)
  }
  t.equal(calls.reduce((n, c) => n + c.live.length, 0), USERS.length, 'every entry goes to one all-users shard')
  t.notOk(USERS.some((u) => calculateSlot(markerTag(calculateSlot(keys.log(u)))) !== calculateSlot(keys.log(u))))
})

t.test('with a Cluster instance: logs, indexes, token, report, export, live channels, erasure', async (t) => {
  const sub = new Cluster(rc.ports.map((port) => ({ host: '127.0.0.1', port })), { shardedSubscribers: true })
  sub.on('error', () => {})
  t.teardown(() => { sub.disconnect() })
  const received = new Map<string, Array<{ id: string, user: string }>>()
  sub.on('smessage', (channel: string, message: string) => {
    const list = received.get(channel) ?? []
    list.push(...(JSON.parse(message) as Array<{ id: string, user: string }>))
    received.set(channel, list)
  })
  const shardChannels = Array.from({ length: ALL_SHARDS }, (_, k) => keys.allShardChannel(k))
  for (const channel of [keys.userChannel('user0'), keys.userChannel(USERS[49] as string), ...shardChannels]) {
    await sub.ssubscribe(channel)
  }
  // The leases a realtime server watching these two users and all users holds.
  for (const lease of [keys.watchLease('user0'), keys.watchLease(USERS[49] as string), keys.allWatchLease]) {
    await db.set(lease, '1', 'PX', 30_000)
  }

  const { app } = await buildApp({ redis: db, maxEntries: MAX })
  t.teardown(() => app.close())
  const PER_USER = 7
  for (let i = 0; i < PER_USER; i++) {
    await Promise.all(USERS.map(async (user) => {
      const res = await app.inject({ url: `/items/${i}`, headers: asUser(user) })
      t.equal(res.statusCode, 200)
    }))
  }
  await app.userlog.flush()
  t.match(app.userlog.stats(), { written: USERS.length * PER_USER, dropped: 0, buffered: 0, redis: 'up' })
  for (const user of USERS) t.equal(await db.llen(keys.log(user)), MAX, `${user}: exactly maxEntries`)
  t.equal(await db.zcard(keys.usersIndex), USERS.length)

  const search = (await app.inject({ url: '/userlog/api/users?q=USER1&limit=100', headers: asAdmin }))
    .json<{ users: Array<{ user: string }> }>()
  t.same(search.users.map((u) => u.user).sort(), ['user1', ...Array.from({ length: 10 }, (_, i) => `user1${i}`)].sort())
  const odd = (await app.inject({ url: '/userlog/api/users?q=a%3Ab', headers: asAdmin }))
    .json<{ users: Array<{ user: string }> }>()
  t.same(odd.users.map((u) => u.user), [USERS[49]])
  const active = (await app.inject({ url: '/userlog/api/active?minutes=5', headers: asAdmin }))
    .json<{ users: Array<{ path: string }> }>()
  t.equal(active.users.length, USERS.length)
  t.ok(active.users.every((u) => u.path === `/items/${PER_USER - 1}`))
  const logsUrl = `/userlog/api/logs/${encodeURIComponent(USERS[49] as string)}`
  const logs = (await app.inject({ url: logsUrl, headers: asAdmin })).json<{ entries: Array<{ path: string }> }>()
  t.same(logs.entries.map((e) => e.path), [6, 5, 4, 3, 2].map((i) => `/items/${i}`))

  const token = await app.inject({
    method: 'POST', url: '/userlog/api/token', headers: asAdmin, payload: { user: 'user3' }
  })
  t.equal(token.statusCode, 200)
  t.same(JSON.parse(String(await db.get(keys.token(token.json<{ token: string }>().token)))),
    { user: 'user3', admin: 'admin' })

  const report = (await app.inject({ url: '/userlog/api/report?days=7', headers: asAdmin })).json<{
    days: Array<{ requests: number, users: number }>
    summary: { requests: number, users: number }
  }>()
  t.equal(report.days.length, 7)
  // The admin's own reads are under routePrefix, so not logged: only the users' requests count.
  t.equal(report.summary.requests, USERS.length * PER_USER)
  t.equal(report.days[6]?.users, USERS.length)

  const csv = await app.inject({ url: '/userlog/api/export?format=csv', headers: asAdmin })
  t.equal(csv.statusCode, 200)
  t.equal(csv.body.trimEnd().split('\r\n').length, 1 + USERS.length * MAX, 'header + every retained entry')
  const one = await app.inject({ url: '/userlog/api/logs/user7/export?format=ndjson', headers: asAdmin })
  t.equal(one.body.trimEnd().split('\n').length, MAX)
  const audit = (await app.inject({ url: '/userlog/api/audit', headers: asAdmin }))
    .json<{ entries: Array<{ action: string }> }>()
  t.ok(audit.entries.some((e) => e.action === 'export'))

  // Sharded pub/sub: the user's channel and the all-users shards carry every entry once.
  await until('live entries', () => [...received.entries()]
    .filter(([c]) => shardChannels.includes(c))
    .reduce((n, [, l]) => n + l.length, 0) >= USERS.length * PER_USER)
  t.equal(received.get(keys.userChannel('user0'))?.length, PER_USER)
  t.equal(received.get(keys.userChannel(USERS[49] as string))?.length, PER_USER)
  const ids = new Set<string>()
  for (const [k, channel] of shardChannels.entries()) {
    for (const entry of received.get(channel) ?? []) {
      ids.add(entry.id)
      t.equal(calculateSlot(keys.log(entry.user)) % ALL_SHARDS, k, 'entry on its user\'s shard')
    }
  }
  t.equal(ids.size, USERS.length * PER_USER)
  t.ok(shardChannels.filter((c) => received.has(c)).length > 1, 'spread over several shards')

  // Erasure: the user's keys (log, sessions) live on one node; none is left anywhere.
  await app.inject({ method: 'POST', url: '/userlog/events', headers: { ...asUser('user3'), host: 'app.test', origin: 'http://app.test', 'content-type': 'application/json' }, payload: { type: 'pageview', path: '/x' } })
  await app.userlog.flush()
  t.equal(await db.exists(keys.sessions('user3')), 1)
  for (const user of ['user3', USERS[49] as string]) {
    const del = await app.inject({
      method: 'DELETE', url: `/userlog/api/users/${encodeURIComponent(user)}`, headers: asAdmin
    })
    t.equal(del.statusCode, 204)
    t.same(await keysOnEveryNode(keys.userPattern(user)), [], `no key of ${user} left`)
    t.equal(await db.zscore(keys.usersIndex, user), null)
  }
  t.equal(await db.zcard(keys.usersIndex), USERS.length - 2)
})

t.test('with a seed string: an owned cluster client survives a node restart', async (t) => {
  for (const node of db.nodes('master')) await node.flushall()
  const { app, logs } = await buildApp({ redis: rc.urls.join(','), maxEntries: MAX })
  t.teardown(() => app.close())
  const users = USERS.slice(0, 20)
  const hit = async (path: string): Promise<void> => {
    await Promise.all(users.map(async (user) => {
      const started = Date.now()
      const res = await app.inject({ url: path, headers: asUser(user) })
      t.equal(res.statusCode, 200)
      t.ok(Date.now() - started < 500, 'never waits for Redis')
    }))
  }
  await hit('/items/before')
  await app.userlog.flush()
  t.match(app.userlog.stats(), { written: users.length, redis: 'up' })

  // The node that owns user0's slot goes away (no replica: its slots are unavailable).
  const owner = db.slots[calculateSlot(keys.log('user0'))]?.[0]
  const port = Number(owner?.split(':')[1])
  t.ok(rc.ports.includes(port))
  await rc.killNode(port)
  await hit('/items/during')
  await until('the outage to be noticed', () => app.userlog.stats().redis === 'down')
  await hit('/items/during2')
  t.ok(app.userlog.stats().buffered > 0, 'entries are buffered')
  const read = await app.inject({ url: '/userlog/api/logs/user0', headers: asAdmin })
  t.equal(read.statusCode, 503, 'reads of its slots answer 503')

  await rc.startNode(port)
  await rc.waitOk()
  await until('writing to resume', () => {
    const s = app.userlog.stats()
    return s.redis === 'up' && s.buffered === 0
  }, 30_000)
  t.equal(app.userlog.stats().dropped, 0)
  t.ok(logs.some((l) => String(l.msg).includes('Redis is unavailable')))
  t.ok(logs.some((l) => String(l.msg).includes('Redis is back')))
  await hit('/items/after')
  await app.userlog.flush()
  for (const user of users) {
    const paths = (await db.lrange(keys.log(user), 0, -1)).map((s) => (JSON.parse(s) as { path: string }).path)
    // A restarted node without persistence comes back empty: what it held before is gone, the rest is there.
    const expected = ['/items/after', '/items/during2', '/items/during']
    t.same(paths.slice(0, 3), expected, `${user}: buffered entries written once, in order`)
  }
  const res = await app.inject({ url: '/userlog/api/logs/user0', headers: asAdmin })
  t.equal(res.statusCode, 200)
})

t.test('one call per master; a call that meets a slot its master lost is resent per slot, applied once', async (t) => {
  const client = rc.client()
  t.teardown(() => client.disconnect())
  await client.ping()
  client.defineCommand('userlogWriteNode', { lua: NODE_WRITE_SCRIPT })
  client.defineCommand('userlogWriteSlot', { lua: SLOT_WRITE_SCRIPT })
  const node = client as unknown as
    Record<'userlogWriteNode' | 'userlogWriteSlot', (n: number, ...a: string[]) => Promise<number>>
  const own = new Keys('nodecalls')
  const settings = { keys: own, maxEntries: MAX, ttl: 60, indexCap: 100, publish: false }
  const entries = USERS.map((user, i) => ({ id: `n${i}`, t: 1, user, kind: 'request', path: '/n' }))
  const { calls } = buildSlotCalls('wn', 1, entries, settings, [], Date.now())
  const groups = groupByNode(client, calls, calls.map(() => false))
  t.ok(groups.length <= rc.ports.length, `${calls.length} slot calls gathered into ${groups.length} node calls`)
  for (const group of groups) {
    const { keys: k, argv } = nodeCall(calls, group)
    t.same(await node.userlogWriteNode(k.length, ...k.values, ...argv.values), [], 'applied; nobody watches')
  }
  for (const user of USERS) t.equal(await client.llen(own.log(user)), 1, `${user}: one entry`)

  // A stale slot map: every slot call of batch 2 sent to one master. The sections its node owns
  // (in order, up to the first it does not) are applied; the refusal says the map moved.
  const second = buildSlotCalls('wn', 2, entries.map((e) => ({ ...e, id: `m${e.id}` })), settings, [], Date.now()).calls
  const all = second.map((_, i) => i)
  const { keys: k, argv } = nodeCall(second, all)
  const refusal = await node.userlogWriteNode(k.length, ...k.values, ...argv.values)
    .then(() => null, (err: Error) => err)
  t.ok(refusal !== null && isSlotMapError(refusal), `refused: ${refusal?.message ?? 'no error'}`)
  // The writer then resends every section on its own; the markers skip what already ran.
  for (const call of second) await node.userlogWriteSlot(call.keys.length, ...call.keys.values, ...call.argv.values)
  for (const call of second) await node.userlogWriteSlot(call.keys.length, ...call.keys.values, ...call.argv.values)
  const lens = await Promise.all(USERS.map(async (user) => await client.llen(own.log(user))))
  t.same(lens, USERS.map(() => 2), 'each batch once')
})
