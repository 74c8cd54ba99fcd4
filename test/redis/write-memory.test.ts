// The writer's memory of what it wrote recently (src/write/memory.ts): repeated batches skip the
// bookkeeping Redis already has, and nothing is lost when Redis lost it (an erased user, a key
// deleted behind the writer's back) or the writer forgot it (another process).
import t from 'tap'
import { RedisServer } from '../helpers/redis.js'
import { buildApp, asUser, asAdmin } from '../helpers/app.js'
import { Keys, namesMember } from '../../src/shared/keys.js'
import { UserMemory, DUE_EXPIRE, DUE_NAMED, DUE_SEEN } from '../../src/write/memory.js'

const redis = await RedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })
t.beforeEach(async () => { await db.flushall() })
const keys = new Keys('userlog')

async function calls (name: string): Promise<number> {
  const stats = await db.info('commandstats')
  return Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
}

t.test('batches within a second skip EXPIRE and the index; the first batch of a user does them', async (t) => {
  const { app } = await buildApp({ redis: redis.url, ttl: 3600 })
  t.teardown(() => app.close())
  const users = Array.from({ length: 40 }, (_, i) => `m${i}`)
  await db.config('RESETSTAT')
  await Promise.all(users.map((u) => app.inject({ url: '/hello', headers: asUser(u) })))
  await app.userlog.flush()
  t.ok(await calls('expire') >= 40, 'first batch: one EXPIRE per new log')
  const zaddFirst = await calls('zadd')
  t.ok(zaddFirst >= 2 && zaddFirst <= 4, `first batch: the users and names indexes in one ZADD each (${zaddFirst})`)
  for (const u of users) t.equal(await db.zscore(keys.namesIndex, namesMember(u)), '0', `${u} is searchable`)

  await db.config('RESETSTAT')
  for (let round = 0; round < 5; round++) {
    await Promise.all(users.map((u) => app.inject({ url: `/items/${round}`, headers: asUser(u) })))
    await app.userlog.flush()
  }
  // (The report's counter keys still get their EXPIRE once a batch: that is per key, not per user.)
  const expires = await calls('expire')
  t.ok(expires < users.length,
    `no EXPIRE of a log while its TTL is fresh (${expires} EXPIREs in 5 batches of 40 users)`)
  t.equal(await calls('zadd'), 0, 'no index write within a second of the last')
  t.equal(await calls('lpush'), 5 * 40, 'one LPUSH per user and batch, nothing else per user')
  const hsets = await calls('hset')
  t.ok(hsets < users.length, `the changed last paths of a batch in one HSET (${hsets} HSETs in 5 batches of 40 users)`)
  const active = await db.hget(keys.lastPath, 'm3')
  t.equal(active, '/items/4', 'the last path is current')
  for (const u of users) t.equal(await db.llen(keys.log(u)), 6)
})

t.test('a log Redis lost (erased, deleted) is re-expired and re-indexed by the next write', async (t) => {
  const { app } = await buildApp({ redis: redis.url, ttl: 3600 })
  t.teardown(() => app.close())
  await app.inject({ url: '/hello', headers: asUser('erin') })
  await app.userlog.flush()
  const erased = await app.inject({ method: 'DELETE', url: '/userlog/api/users/erin', headers: asAdmin })
  t.equal(erased.statusCode, 204)
  t.equal(await db.exists(keys.log('erin')), 0)
  t.equal(await db.zscore(keys.usersIndex, 'erin'), null)
  // Within the second the writer would otherwise skip the index.
  await app.inject({ url: '/after', headers: asUser('erin') })
  await app.userlog.flush()
  t.equal(await db.llen(keys.log('erin')), 1)
  const ttl = await db.ttl(keys.log('erin'))
  t.ok(ttl > 3500, `the new log expires (ttl ${ttl})`)
  t.not(await db.zscore(keys.usersIndex, 'erin'), null, 'back in the users index')
  t.equal(await db.zscore(keys.namesIndex, namesMember('erin')), '0', 'back in the names index')

  // A key deleted behind the writer's back (FLUSHALL, another tool): the same.
  await db.flushall()
  await app.inject({ url: '/again', headers: asUser('erin') })
  await app.userlog.flush()
  t.ok(await db.ttl(keys.log('erin')) > 3500)
  t.not(await db.zscore(keys.usersIndex, 'erin'), null)
})

t.test('the memory: what is due, when, and bounded', async (t) => {
  const memory = new UserMemory(keys, 60_000, 100)
  const ann = memory.get('ann')
  const due = (now: number, path: string): { due: number, sendPath: string | null } => {
    ann.pagePath = path
    memory.due(ann, now)
    return { due: ann.due, sendPath: ann.sendPath }
  }
  t.same(due(1_000_000, '/a'), { due: DUE_EXPIRE | DUE_SEEN | DUE_NAMED, sendPath: '/a' },
    'a user never written: everything is due, the path is sent')
  memory.written([ann], 1_000_000)
  t.same(due(1_000_500, '/a'), { due: 0, sendPath: null }, 'half a second later: nothing')
  t.equal(due(1_000_500, '/b').sendPath, '/b', 'a changed path is sent')
  t.same(due(1_001_000, '/a'), { due: DUE_SEEN, sendPath: '/a' },
    'a second later: the users index (and the path with it)')
  t.equal(due(1_060_000, '/a').due, DUE_EXPIRE | DUE_SEEN | DUE_NAMED, 'a minute later: everything')
  const bob = memory.get('bob')
  bob.pagePath = ''
  const unwritten = memory.due(bob, 1_000_000)
  t.equal(memory.due(bob, 1_000_001), unwritten, 'a batch that failed changes nothing')
  for (let i = 0; i < 250; i++) memory.get(`u${i}`)
  t.ok(memory.size <= 100, `bounded (${memory.size} users remembered)`)
  t.equal(memory.get('u249').tag, 'u249')
  t.equal(memory.get('a b/ç').tag, 'a%20b%2F%C3%A7', "a user's tag is their name as their keys spell it")
  t.equal(keys.log('a b/ç'), `userlog:{${memory.get('a b/ç').tag}}:log`)
})

t.test("a user's sessions hash lives as long as their log, however they are active", async (t) => {
  const { app } = await buildApp({ redis: redis.url, ttl: 3600 })
  t.teardown(() => app.close())
  // A browser session from earlier: its hash would expire soon, while the user keeps making requests.
  await db.hset(keys.sessions('s1'), 'sid1:start', '1', 'sid1:ua', 'Firefox')
  await db.expire(keys.sessions('s1'), 5)
  await app.inject({ url: '/hello', headers: asUser('s1') })
  await app.userlog.flush()
  const ttl = await db.ttl(keys.sessions('s1'))
  t.ok(ttl > 3600, `the first batch of the user refreshed the sessions hash with the log (ttl ${ttl} s)`)
  t.equal(await db.ttl(keys.sessions('s1')) - await db.ttl(keys.log('s1')), 0, 'the same expiry as the log')
  t.equal(await db.exists(keys.sessions('nobrowser')), 0)
  await app.inject({ url: '/hello', headers: asUser('nobrowser') })
  await app.userlog.flush()
  t.equal(await db.exists(keys.sessions('nobrowser')), 0, 'no sessions hash is made for a user without one')
})
