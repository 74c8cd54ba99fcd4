// The realtime server on a real three-node Redis Cluster: GETDEL and LRANGE through the Cluster
// client, live entries over SSUBSCRIBE (one connection per master), the all-users stream over the
// ALL_SHARDS sharded channels; single-use tokens; a master restart; and two realtime servers at
// once, each delivering every entry to each of its viewers exactly once.
import t from 'tap'
import calculateSlot from 'cluster-key-slot'
import type { Cluster } from 'ioredis'
import { RedisCluster } from '../helpers/cluster.js'
import { ALL_SHARDS, Keys } from '../../src/shared/keys.js'
import { Hub } from '../../src/realtime/hub.js'
import { validateRealtimeOptions } from '../../src/realtime/options.js'
import { Client, entry, eventually, startServer, type TestEntry } from '../helpers/realtime.js'
import { randomBytes } from 'node:crypto'

const keys = new Keys('userlog')
const cluster = await RedisCluster.start()
const db = cluster.client()
t.teardown(async () => {
  db.disconnect()
  await cluster.stop()
})
const seeds = cluster.urls.join(',')

async function mint (user: string): Promise<string> {
  const token = randomBytes(18).toString('base64url')
  await db.set(keys.token(token), JSON.stringify({ user, admin: 'root' }), 'EX', 30)
  return token
}

/** Writes a batch as the plugin does on a cluster: LPUSH per user, SPUBLISH per user, SPUBLISH per all-users shard. */
async function write (c: Cluster, entries: TestEntry[], publish = true): Promise<void> {
  const byUser = new Map<string, TestEntry[]>()
  for (const e of entries) byUser.set(e.user, [...(byUser.get(e.user) ?? []), e])
  const shards = new Map<number, TestEntry[]>()
  for (const [user, list] of byUser) {
    await c.lpush(keys.log(user), ...list.map((e) => JSON.stringify(e)))
    if (!publish) continue
    await c.spublish(keys.userChannel(user), JSON.stringify(list))
    const k = calculateSlot(keys.log(user)) % ALL_SHARDS
    shards.set(k, [...(shards.get(k) ?? []), ...list])
  }
  for (const [k, list] of shards) await c.spublish(keys.allShardChannel(k), JSON.stringify(list))
}

/** A user whose keys live on the node listening on `port` (or, with `not`, on another node). */
function userOn (port: number, not = false): string {
  for (let i = 0; ; i++) {
    const user = `u${i}-${port}`
    const slot = calculateSlot(keys.log(user))
    const owner = db.slots[slot]?.[0] ?? ''
    // A user "not on" the node must not have its all-users shard channel there either: entries
    // published while that node is down go to both.
    const shardOwner = db.slots[calculateSlot(keys.allShardChannel(slot % ALL_SHARDS))]?.[0] ?? ''
    if (not && shardOwner.endsWith(`:${port}`)) continue
    if ((owner.endsWith(`:${port}`)) !== not) return user
  }
}

function ids (c: Client): string[] { return c.entries().map((e) => e.id) }

await eventually(() => db.status === 'ready', 10_000, 'the test client')

t.test('options: seed lists and Cluster instances are accepted, malformed lists refused', async (t) => {
  t.equal(validateRealtimeOptions({ redis: seeds }).redis, seeds)
  t.equal(validateRealtimeOptions({ redis: db }).redis, db)
  t.throws(() => validateRealtimeOptions({ redis: 'redis://a:1,redis://b:2/3' }), /names a database/)
  t.throws(() => validateRealtimeOptions({ redis: 'redis://a:1,rediss://b:2' }), /mix/)
})

t.test('single-user and all-users live views, single-use tokens, one SSUBSCRIBE connection per master', async (t) => {
  const rt = await startServer({ redis: seeds })
  t.teardown(() => rt.app.close())
  const hub = rt.app.userlogRealtime.hub
  t.equal(hub.cluster, true)
  await eventually(() => hub.sub.connections === 3 && hub.redisUp, 10_000, 'three subscriber connections')

  const users = [
    userOn(cluster.ports[0] as number), userOn(cluster.ports[1] as number), userOn(cluster.ports[2] as number)
  ]
  const old = entry(users[0] as string)
  await write(db, [old])

  const token = await mint(users[0] as string)
  const alice = await Client.viewer(rt.url, token)
  t.teardown(() => alice.close())
  await alice.until((ms) => ms.some((m) => m.type === 'backlog'))
  t.same(alice.messages[0], { type: 'hello', user: users[0] })
  t.same(ids(alice), [old.id], 'the backlog came from the node owning the user\'s slot')

  const all = await Client.viewer(rt.url, await mint('*'))
  t.teardown(() => all.close())
  await all.until((ms) => ms.some((m) => m.type === 'backlog'))
  t.equal(rt.app.userlogRealtime.stats().channels, 1 + ALL_SHARDS, 'one user channel and every all-users shard')

  const batch = users.flatMap((u) => [entry(u), entry(u)])
  await write(db, batch)
  await all.until(() => all.entries().length === batch.length, 10_000, 'all users\' entries')
  t.same(ids(all).sort(), batch.map((e) => e.id).sort(), 'entries of users on every node reach the all-users view')
  await alice.until(() => alice.entries().length === 3)
  t.same(ids(alice), [old.id, ...batch.filter((e) => e.user === users[0]).map((e) => e.id)])

  // A token works once.
  const again = await Client.open(rt.url)
  again.send({ token })
  t.equal((await again.closed).code, 4401)

  // The last viewer of a channel leaving unsubscribes it.
  alice.close()
  all.close()
  await eventually(() => rt.app.userlogRealtime.stats().channels === 0, 5000, 'channels released')
  const counts = await Promise.all(cluster.ports.map(async (port) => {
    const node = db.nodes('master').find((n) => n.options.port === port)
    return await (node as NonNullable<typeof node>)
      .call('PUBSUB', 'SHARDNUMSUB', keys.userChannel(users[0] as string)) as [string, number]
  }))
  t.same(counts.map((c) => c[1]).reduce((a, b) => a + b, 0), 0, 'no node holds a subscription any more')
})

t.test('a master restart: viewers are told down and up, resubscribed, and catch up without doubles', async (t) => {
  const rt = await startServer({ redis: seeds, redisPingMs: 200 })
  t.teardown(() => rt.app.close())
  const hub = rt.app.userlogRealtime.hub
  await eventually(() => hub.sub.connections === 3 && hub.redisUp, 10_000, 'subscribers ready')

  const victim = cluster.ports[0] as number
  const onVictim = userOn(victim)
  const elsewhere = userOn(victim, true)
  const a = await Client.viewer(rt.url, await mint(onVictim))
  const b = await Client.viewer(rt.url, await mint(elsewhere))
  const all = await Client.viewer(rt.url, await mint('*'))
  t.teardown(() => { a.close(); b.close(); all.close() })
  for (const c of [a, b, all]) await c.until((ms) => ms.some((m) => m.type === 'backlog'))

  await cluster.killNode(victim)
  for (const c of [a, b, all]) {
    await c.until((ms) => ms.some((m) => m.type === 'status' && m.redis === 'down'), 5000, 'status down')
  }
  // While the node is down: one entry published live on a node that is still up, one only pushed
  // to the log (its message lost): the first arrives once, the second when the hub catches up.
  const live = entry(elsewhere)
  const silent = entry(elsewhere)
  // The test's own client may still be learning the outage (MOVED, CLUSTERDOWN): retry its writes.
  for (const [e, publish] of [[live, true], [silent, false]] as const) {
    await eventually(async () => {
      try { await write(db, [e], publish); return true } catch { return false }
    }, 10_000, 'a write during the outage')
  }
  await cluster.startNode(victim)
  await cluster.waitOk()
  for (const c of [a, b, all]) {
    await c.until((ms) => ms.some((m) => m.type === 'status' && m.redis === 'up'), 15_000, 'status up')
  }
  await b.until(() => ids(b).includes(silent.id), 10_000, 'the missed entry')
  t.same(ids(b).filter((id) => id === live.id || id === silent.id).sort(), [live.id, silent.id].sort(),
    'each entry exactly once')

  // After the restart, every channel is subscribed again, on the restarted node too.
  const after = [entry(onVictim), entry(elsewhere)]
  await eventually(async () => {
    try { await write(db, after); return true } catch { return false }
  }, 10_000, 'the cluster accepting writes')
  await a.until(() => ids(a).includes(after[0]?.id as string), 10_000, 'a live entry on the restarted node')
  await all.until(() => ids(all).includes(after[0]?.id as string) && ids(all).includes(after[1]?.id as string),
    10_000, 'all users after restart')
  for (const c of [a, b, all]) t.equal(new Set(ids(c)).size, ids(c).length, 'no entry twice')
})

t.test('a watched channel\'s slot migrating to another master: the server follows it', async (t) => {
  const rt = await startServer({ redis: seeds })
  t.teardown(() => rt.app.close())
  const hub = rt.app.userlogRealtime.hub
  await eventually(() => hub.sub.connections === 3 && hub.redisUp, 10_000, 'subscribers ready')
  // A user without keys yet: its slot is empty, so it can be reassigned without MIGRATE.
  const from = cluster.ports[1] as number
  const user = `mover-${randomBytes(4).toString('hex')}`
  const slot = calculateSlot(keys.log(user))
  const node = (port: number): NonNullable<ReturnType<Cluster['nodes']>[number]> => {
    const n = db.nodes('master').find((m) => m.options.port === port)
    if (n === undefined) throw new Error(`no node on ${port}`)
    return n
  }
  const owner = db.slots[slot]?.[0] ?? ''
  const src = Number(owner.slice(owner.lastIndexOf(':') + 1))
  const dst = cluster.ports.find((p) => p !== src) ?? from
  const viewer = await Client.viewer(rt.url, await mint(user))
  t.teardown(() => viewer.close())
  await viewer.until((ms) => ms.some((m) => m.type === 'backlog'))

  // The viewer's watch lease is the slot's only key: dropped so the slot can move without MIGRATE
  // (the server renews it on the new owner; this test's writes publish by themselves).
  await db.del(keys.watchLease(user))
  const dstId = await node(dst).call('CLUSTER', 'MYID') as string
  await node(dst).call('CLUSTER', 'SETSLOT', slot, 'NODE', dstId)
  await node(src).call('CLUSTER', 'SETSLOT', slot, 'NODE', dstId)
  for (const p of cluster.ports) {
    if (p !== src && p !== dst) await node(p).call('CLUSTER', 'SETSLOT', slot, 'NODE', dstId)
  }

  const e = entry(user)
  await eventually(async () => {
    try { await write(db, [e]); return true } catch { return false }
  }, 10_000, 'a write to the moved slot')
  await viewer.until(() => ids(viewer).includes(e.id), 15_000, 'the entry after the slot moved')
  const after = entry(user)
  await write(db, [after])
  await viewer.until(() => ids(viewer).includes(after.id), 10_000, 'live entries from the new owner')
  t.same(ids(viewer), [e.id, after.id], 'each entry once')
})

t.test('two realtime servers on the cluster: every viewer gets every entry exactly once', async (t) => {
  const servers = [await startServer({ redis: seeds }), await startServer({ redis: seeds })]
  t.teardown(async () => { for (const s of servers) await s.app.close() })
  for (const s of servers) await eventually(() => s.app.userlogRealtime.hub.redisUp, 10_000, 'subscribers ready')
  const users = ['ann', 'bob', 'cy', 'dee']
  const viewers: Array<{ c: Client, user: string | null }> = []
  for (const s of servers) {
    for (const user of [...users, null]) {
      const c = await Client.viewer(s.url, await mint(user ?? '*'))
      viewers.push({ c, user })
    }
  }
  t.teardown(() => { for (const v of viewers) v.c.close() })
  for (const v of viewers) await v.c.until((ms) => ms.some((m) => m.type === 'backlog'))
  const before = new Map(viewers.map((v) => [v.c, ids(v.c).length]))

  const written: TestEntry[] = []
  for (let i = 0; i < 60; i++) {
    const batch = users.map((u) => entry(u))
    written.push(...batch)
    await write(db, batch)
  }
  for (const v of viewers) {
    const want = written.filter((e) => v.user === null || e.user === v.user).map((e) => e.id)
    await v.c.until(() => ids(v.c).length - (before.get(v.c) ?? 0) >= want.length, 15_000,
      `entries of ${v.user ?? '*'}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
    const got = ids(v.c).slice(before.get(v.c))
    t.same(got.slice().sort(), want.slice().sort(), `${v.user ?? '*'}: each entry exactly once`)
  }
})

t.test('an ioredis Cluster instance is used, not closed', async (t) => {
  const c = cluster.client()
  t.teardown(() => c.disconnect())
  const hub = new Hub({ redis: c, prefix: 'userlog', log: { debug () {}, info () {}, warn () {}, error () {} } })
  t.ok(await hub.ready(10_000))
  const user = userOn(cluster.ports[1] as number)
  const got: string[] = []
  const w = hub.watch(user, {
    backlog: (es) => got.push(...es.map((e) => e.id)),
    entries: (es) => got.push(...es.map((e) => e.id))
  })
  await eventually(() => hub.stats().channels === 1 && hub.redisUp, 5000, 'watching')
  await new Promise((resolve) => setTimeout(resolve, 100))
  const e = entry(user)
  await write(db, [e])
  await eventually(() => got.includes(e.id), 5000, 'the entry')
  w.close()
  await hub.close()
  t.equal(c.status, 'ready', 'the caller\'s Cluster stays open')
})

t.test('the CLI: --redis takes a seed list; `userlog tail` follows a user on the cluster', async (t) => {
  const { parseCli, UsageError } = await import('../../src/cli/args.js')
  const { runCli } = await import('../../src/cli/run.js')
  t.match(parseCli(['realtime', '--redis', seeds]), { command: 'realtime', redis: seeds })
  t.match(parseCli(['tail', 'x'], { REDIS_URL: seeds }), { command: 'tail', redis: seeds })
  t.throws(() => parseCli(['realtime', '--redis', 'redis://a:1,redis://b:2/5']), UsageError)
  t.throws(() => parseCli(['realtime', '--redis', 'redis://a:1,http://b:2']), UsageError)

  const user = userOn(cluster.ports[2] as number)
  const old = entry(user, { path: '/before' })
  await write(db, [old])
  const out: string[] = []
  const err: string[] = []
  const running = await runCli(['tail', user, '--json', '--redis', seeds], {},
    { out: (l) => out.push(l), err: (l) => err.push(l) })
  t.teardown(async () => { if (typeof running !== 'number') await running.close() })
  const idsOut = (): string[] => out.map((l) => (JSON.parse(l) as TestEntry).id)
  await eventually(() => idsOut().at(-1) === old.id, 10_000, 'the backlog')
  const next = entry(user, { path: '/after' })
  await write(db, [next])
  await eventually(() => idsOut().at(-1) === next.id, 10_000, 'the live entry')
  t.same(idsOut().slice(-2), [old.id, next.id])
  t.equal(new Set(idsOut()).size, out.length, 'no entry twice')
  t.same(err, [])
})
