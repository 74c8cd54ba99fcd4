// The write script's report ops against a real redis-server: HINCRCAP (a capped hash with an
// "other" bucket), HMIN/HMAX merged per batch, and their order before the EXPIREs.
import t from 'tap'
import { RedisServer } from '../helpers/redis.js'
import { Keys } from '../../src/shared/keys.js'
import { buildScriptCall, type BatchOps, type Contributor } from '../../src/write/batch.js'
import { WRITE_SCRIPT } from '../../src/write/script.js'
import type { Entry } from '../../src/types.js'

const redis = await RedisServer.start()
const db = redis.client()
db.defineCommand('userlogWrite', { lua: WRITE_SCRIPT })
t.teardown(async () => { db.disconnect(); await redis.stop() })
t.beforeEach(async () => { await db.flushall() })

const keys = new Keys('userlog')
const settings = { keys, maxEntries: 10, ttl: 60, indexCap: 1000, publish: false }
let seq = 0

async function write (entries: Entry[], contribute: Contributor): Promise<{ argv: string[] }> {
  const call = buildScriptCall('w', ++seq, entries, settings, [contribute], Date.now())
  const run = (db as unknown as { userlogWrite: (n: number, ...args: string[]) => Promise<number> }).userlogWrite
  await run.call(db, call.keys.length, ...call.keys.values, ...call.argv.values)
  return { argv: call.argv.values }
}

const entry = (i: number, extra: Partial<Entry> = {}): Entry =>
  ({ id: `e${i}`, t: 1000 + i, user: 'u', kind: 'custom', ...extra })

t.test('HINCRCAP: new fields stop at the cap, then count into "other"; known fields keep counting', async (t) => {
  const key = 'userlog:{stats}:test:pages'
  const pathOf = (e: Entry): string => e.path as string
  const capped: Contributor = (e, ops) => ops.hincrcap(key, pathOf(e), 1, 3)
  // One batch: /a twice (summed into one op), /b, /c fill the cap; /d and /e go to "other".
  const first = await write(['/a', '/b', '/a', '/c', '/d', '/e'].map((path, i) => entry(i, { path })), capped)
  t.equal(first.argv.filter((a) => a === 'HINCRCAP').length, 5, 'one op per distinct field')
  t.same(await db.hgetall(key), { '/a': '2', '/b': '1', '/c': '1', other: '2' })
  // A later batch: a known field still counts, a new one goes to "other" (which does not use up the cap).
  await write([entry(10, { path: '/b' }), entry(11, { path: '/f' })], capped)
  t.same(await db.hgetall(key), { '/a': '2', '/b': '2', '/c': '1', other: '3' })
  t.equal(await db.hlen(key), 4)
})

t.test('HINCRCAP with a field literally named "other" and a cap not yet reached', async (t) => {
  const key = 'userlog:{stats}:test:events'
  await write([entry(1, { event: 'other' }), entry(2, { event: 'click' })],
    (e, ops) => ops.hincrcap(key, e.event as string, 2, 2))
  t.same(await db.hgetall(key), { other: '2', click: '2' })
})

t.test('HMIN and HMAX merge per batch and never move the wrong way', async (t) => {
  const key = 'userlog:{stats}:test:totals'
  const extremes: Contributor = (e, ops: BatchOps) => {
    ops.extreme('HMIN', key, 'first', e.t)
    ops.extreme('HMAX', key, 'last', e.t)
  }
  const call = await write([entry(5), entry(3), entry(9), entry(4)], extremes)
  t.equal(call.argv.filter((a) => a === 'HMIN').length, 1)
  t.equal(call.argv.filter((a) => a === 'HMAX').length, 1)
  t.same(await db.hgetall(key), { first: '1003', last: '1009' })
  await write([entry(7)], extremes)
  t.same(await db.hgetall(key), { first: '1003', last: '1009' }, 'a value inside the range changes nothing')
  await write([entry(1), entry(20)], extremes)
  t.same(await db.hgetall(key), { first: '1001', last: '1020' })
})

t.test('merged ops come before EXPIRE, so a new counter key gets its TTL', async (t) => {
  const key = 'userlog:{stats}:test:ttl'
  await write([entry(1, { path: '/x' })], (e, ops) => {
    ops.expire(key, 100)
    ops.hincrcap(key, e.path as string, 1, 10)
    ops.extreme('HMAX', key, 'last', e.t)
  })
  t.same(await db.hgetall(key), { '/x': '1', last: '1001' })
  t.ok((await db.ttl(key)) > 90)
})

t.test('HMAXSUM: one count per field, the sum of each field\'s largest value, remembered fields capped', async (t) => {
  const key = 'userlog:{stats}:test:ended'
  const ended: Contributor = (e, ops) => ops.hmaxsum(key, e.sid as string, e.duration as number, 2)
  // s1 reports 10 then 40 in one batch (merged: 40), s2 reports 5.
  const call = await write([
    entry(1, { sid: 's1', duration: 10 }), entry(2, { sid: 's2', duration: 5 }), entry(3, { sid: 's1', duration: 40 })
  ], ended)
  t.equal(call.argv.filter((a) => a === 'HMAXSUM').length, 2, 'merged per field')
  t.same(await db.hgetall(key), { s1: '40', s2: '5', '#n': '2', '#s': '45' })
  // Later: s1 grows to 60 (adds 20), s2 reports less (nothing), s3 is past the cap: counted, not kept.
  await write([
    entry(4, { sid: 's1', duration: 60 }), entry(5, { sid: 's2', duration: 1 }), entry(6, { sid: 's3', duration: 7 })
  ], ended)
  t.same(await db.hgetall(key), { s1: '60', s2: '5', '#n': '3', '#s': '72' })
})
