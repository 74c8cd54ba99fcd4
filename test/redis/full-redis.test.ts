// A Redis at its maxmemory with `noeviction` refuses every write with OOM, yet still answers PING
// and reads: neither down nor up. The host must not notice: every request is answered while Redis
// is full, the buffer stays at maxBuffer, what does not fit is counted, the episode is one warning
// that names the cause (out of memory, not unavailable), and once memory is freed writing resumes
// by itself with one "back" line.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import { RedisServer } from '../helpers/redis.js'
import { buildApp, asUser, asAdmin } from '../helpers/app.js'
import { eventually } from '../helpers/realtime.js'
import { Keys } from '../../src/shared/keys.js'

const keys = new Keys('userlog')
const MAXMEMORY = 4 * 1024 * 1024
const MAX_BUFFER = 100
const REQUESTS = 300
const USER = 'full'
const FILLER_KEYS = 800

// One script writes 800 × 10 KB, twice the limit: a script that starts under maxmemory runs to its
// end, so Redis is left well above it. (Filling key by key stops a few bytes past the limit, where
// Redis shrinking an idle client's buffer could let a write through and make the test flaky.)
const FILL = "for i = 1, tonumber(ARGV[1]) do redis.call('SET', 'filler:' .. i, string.rep('x', 10000)) end"
const fillerNames = Array.from({ length: FILLER_KEYS }, (_, i) => `filler:${i + 1}`)

async function fill (db: Redis): Promise<void> {
  await db.eval(FILL, 0, FILLER_KEYS)
}

const usedMemory = async (db: Redis): Promise<number> =>
  Number(/used_memory:(\d+)/.exec(await db.info('memory'))?.[1])

const newestPath = async (db: Redis): Promise<string | undefined> => {
  const [newest] = await db.lrange(keys.log(USER), 0, 0)
  return newest === undefined ? undefined : (JSON.parse(newest) as { path: string }).path
}

t.test('a full Redis: the host answers, the buffer is bounded, one warning says why, writing resumes', async (t) => {
  const redis = await RedisServer.start(['--maxmemory', String(MAXMEMORY), '--maxmemory-policy', 'noeviction'])
  t.teardown(() => redis.stop())
  const db = redis.client()
  t.teardown(() => db.disconnect())
  const { app, logs } = await buildApp({ redis: redis.url, maxBuffer: MAX_BUFFER, maxEntries: 1000 })
  t.teardown(() => app.close())
  const warnings = (): Array<Record<string, unknown>> => logs.filter((l) => Number(l.level) >= 40)
  const backLines = (): Array<Record<string, unknown>> => logs.filter((l) => String(l.msg).includes('Redis is back'))

  for (let i = 0; i < 5; i++) await app.inject({ url: '/hello', headers: asUser(USER) })
  await app.userlog.flush()
  t.equal(await db.llen(keys.log(USER)), 5, 'entries are written while Redis has room')

  await fill(db)
  t.ok(await usedMemory(db) > MAXMEMORY * 1.5, 'Redis is well above its maxmemory')
  await t.rejects(db.set('probe', 'x'), /^OOM command not allowed/, 'Redis refuses writes')
  const before = app.userlog.stats()

  // Steady traffic for about two seconds: long enough for several probes to retry the batch.
  const statuses = new Map<number, number>()
  const latencies: number[] = []
  let maxBuffered = 0
  for (let i = 0; i < REQUESTS; i++) {
    const started = performance.now()
    const res = await app.inject({ url: `/items/${i}`, headers: asUser(USER) })
    latencies.push(performance.now() - started)
    statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
    maxBuffered = Math.max(maxBuffered, app.userlog.stats().buffered)
    await sleep(5)
  }
  const during = app.userlog.stats()
  // The admin page's reads are audited, and the audit is a write: a full Redis refuses it.
  const view = await app.inject({ url: `/userlog/api/logs/${USER}`, headers: asAdmin })
  t.equal(view.statusCode, 503, 'an admin view while Redis is full answers 503, not 500')
  t.match(view.json(), { error: 'Service Unavailable', message: /Redis is out of memory/ }, 'and says why')
  t.equal(view.headers['retry-after'], '30')
  // Still refused after the last request: every request above was answered while Redis was full.
  await t.rejects(db.set('probe', 'x'), /^OOM/, 'Redis was full for the whole traffic')

  t.same([...statuses], [[200, REQUESTS]], `${REQUESTS} host requests while Redis is full, every one answered 200`)
  latencies.sort((a, b) => a - b)
  // Generous: a request that waited for a write would not have been answered at all while Redis was full.
  t.ok((latencies.at(-1) ?? Infinity) < 1000, 'no request waited for Redis')
  t.comment(`host latency while Redis is full: min ${latencies[0]?.toFixed(2)} ms, ` +
    `median ${latencies[REQUESTS >> 1]?.toFixed(2)} ms, max ${latencies.at(-1)?.toFixed(2)} ms`)
  t.equal(during.redis, 'down', 'the writer noticed')
  t.equal(during.written, before.written, 'nothing was written')
  t.ok(during.failedBatches - before.failedBatches >= 3,
    `the probe kept retrying the batch (${during.failedBatches - before.failedBatches} failed attempts)`)
  t.ok(maxBuffered <= MAX_BUFFER, `the buffer never held more than maxBuffer (peak ${maxBuffered})`)
  t.equal(during.buffered, MAX_BUFFER, 'the buffer is full')
  t.equal(during.dropped - before.dropped, REQUESTS - MAX_BUFFER, 'what did not fit was dropped and counted')

  t.equal(warnings().length, 1, 'one warning for the episode, not one per failed batch')
  const [warning] = warnings()
  t.match(warning, {
    level: 40,
    msg: /Redis is out of memory \(maxmemory reached\).*raise maxmemory/,
    userlog: { error: /^OOM/, maxBuffer: MAX_BUFFER }
  }, 'the warning names the cause and the fix')
  t.notMatch(String(warning?.msg), /unavailable/, 'it does not say Redis is unavailable')
  t.equal(backLines().length, 0)

  await db.del(...fillerNames)
  await eventually(() => app.userlog.stats().redis === 'up' && app.userlog.stats().buffered === 0, 10_000,
    'writing to resume once memory is freed')
  t.equal(await db.llen(keys.log(USER)), 5 + MAX_BUFFER, 'the buffered entries reached Redis')
  t.equal(await newestPath(db), `/items/${MAX_BUFFER - 1}`, 'the newest stored is the last that fitted the buffer')
  await app.inject({ url: '/hello?after=1', headers: asUser(USER) })
  await eventually(async () => await newestPath(db) === '/hello?after=1', 5000, 'a new request to be stored')
  t.equal(backLines().length, 1, 'one "back" line')
  t.match(backLines()[0], { level: 30, userlog: { dropped: REQUESTS - MAX_BUFFER } }, 'it counts what was lost')
  t.equal(warnings().length, 1, 'no other warning')

  // A second episode is a second warning.
  await fill(db)
  await app.inject({ url: '/hello', headers: asUser(USER) })
  await eventually(() => app.userlog.stats().redis === 'down', 5000, 'the second episode')
  t.equal(warnings().length, 2)
  t.match(warnings()[1], { msg: /out of memory/ })
  await db.del(...fillerNames)
  await eventually(() => app.userlog.stats().redis === 'up' && app.userlog.stats().buffered === 0, 10_000,
    'writing to resume again')
  t.equal(backLines().length, 2)
})
