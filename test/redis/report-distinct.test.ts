// Distinct users per day (and per browser family): a process adds a user to the day's
// HyperLogLogs once, after the batch that did so was written; a batch that failed adds them again
// when it is retried; the counts the report shows stay what they were.
import t from 'tap'
import { RedisServer } from '../helpers/redis.js'
import { buildApp, asUser, asAdmin } from '../helpers/app.js'
import type { Report } from '../../src/report/report.js'

const redis = await RedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) ' +
  'Chrome/135.0.0.0 Safari/537.36'
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'

async function pfadds (): Promise<number> {
  const stats = await db.info('commandstats')
  return Number(/cmdstat_pfadd:calls=(\d+)/.exec(stats)?.[1] ?? 0)
}

t.test('a user is added once a day; a new browser of theirs once more; the counts hold', async (t) => {
  await db.flushall()
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  const visit = async (user: string, ua = CHROME): Promise<void> => {
    await app.inject({ url: '/hello', headers: { ...asUser(user), 'user-agent': ua } })
  }
  await db.config('RESETSTAT')
  for (const u of ['ann', 'bob', 'cid']) await visit(u)
  await app.userlog.flush()
  t.equal(await pfadds(), 2, 'first batch: one PFADD of the users, one of the Chrome users')

  await db.config('RESETSTAT')
  for (let i = 0; i < 3; i++) {
    for (const u of ['ann', 'bob', 'cid']) await visit(u)
    await app.userlog.flush()
  }
  t.equal(await pfadds(), 0, 'later batches of the same users add nothing')

  await visit('ann', FIREFOX)
  await visit('dee')
  await app.userlog.flush()
  t.equal(await pfadds(), 3, 'a new user (users, Chrome users), a known user on a new browser (Firefox users)')

  const report = (await app.inject({ url: '/userlog/api/report?days=1', headers: asAdmin })).json<Report>()
  const day = report.days.at(-1)
  t.equal(day?.users, 4, 'four distinct users')
  const share = Object.fromEntries(report.browsers.map((b) => [b.name, b.count]))
  t.same(share, { Chrome: 4, Firefox: 1 }, 'Chrome users, Firefox users')
})

t.test('a batch that failed is added again when it is retried', async (t) => {
  await db.flushall()
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  // Redis refuses the first attempt of the batch (out of memory), then has room again.
  await db.config('SET', 'maxmemory', '1')
  await db.config('SET', 'maxmemory-policy', 'noeviction')
  await app.inject({ url: '/hello', headers: { ...asUser('eve'), 'user-agent': CHROME } })
  await app.userlog.flush()
  t.equal(app.userlog.stats().failedBatches, 1, 'the first attempt failed')
  await db.config('SET', 'maxmemory', '0')
  for (let i = 0; i < 100 && app.userlog.stats().buffered > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  t.equal(app.userlog.stats().buffered, 0, 'written on the retry')
  await app.inject({ url: '/hello', headers: { ...asUser('eve'), 'user-agent': CHROME } })
  await app.userlog.flush()
  const report = (await app.inject({ url: '/userlog/api/report?days=1', headers: asAdmin })).json<Report>()
  t.equal(report.days.at(-1)?.users, 1, 'eve is counted')
})
