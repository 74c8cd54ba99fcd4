// The report: counters kept by the write batches (real redis-server, real script), read back by
// GET /api/report — shape, zero-fill, counts, time-zone and DST day boundaries, browser share,
// the 500-paths cap, expiry, erasure and access.
import t, { type Test } from 'tap'
import { RedisServer } from '../helpers/redis.js'
import { buildApp, asUser, asAdmin } from '../helpers/app.js'
import { Keys, encodeUser } from '../../src/shared/keys.js'
import { writeEntries as writeReportEntries, type TimedEntry } from '../helpers/report-entries.js'
import type { Entry } from '../../src/types.js'
import { STATS_TTL_S, MAX_PAGES, pagePath } from '../../src/report/counters.js'
import { buildReport, percentages, top, type Report } from '../../src/report/report.js'
import { DayClock, addDays } from '../../src/report/days.js'
import { browserFamily, BrowserCache } from '../../src/report/browsers.js'

const redis = await RedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })
t.beforeEach(async () => { await db.flushall() })
const keys = new Keys('userlog')

const UA = {
  chrome: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) ' +
    'Chrome/135.0.0.0 Safari/537.36',
  firefox: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  safari: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) ' +
    'Version/17.5 Safari/605.1.15',
  edge: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) ' +
    'Chrome/135.0.0.0 Safari/537.36 Edg/135.0.0.0',
  bot: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'
}

const writeEntries = async (entries: TimedEntry[], timeZone: string): Promise<void> =>
  await writeReportEntries(db, keys, entries, timeZone)

const iso = (s: string): number => Date.parse(s)
const client = (fields: Partial<Entry>): Partial<Entry> => ({ src: 'client', ...fields })

/** Today in a zone, computed independently of the code under test. */
function today (timeZone: string, now = Date.now()): string {
  const format = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
  const parts = Object.fromEntries(format.formatToParts(now).map((p) => [p.type, p.value]))
  return `${parts.year}-${parts.month}-${parts.day}`
}

function checkShare (t: Test, report: Report): void {
  const sum = report.browsers.reduce((a, b) => a + b.percent, 0)
  t.ok(Math.abs(sum - 100) <= 0.01, `browser share sums to 100 (${sum})`)
}

t.test('New York: entries land on their local day across midnight and the DST change (23-hour day)', async (t) => {
  await writeEntries([
    { t: iso('2026-03-08T04:59:59.000Z'), user: 'alice', route: '/a', ua: UA.chrome }, // Mar 7, 23:59:59 EST
    { t: iso('2026-03-08T05:00:00.000Z'), user: 'alice', route: '/a', ua: UA.firefox }, // Mar 8, 00:00 EST
    // 01:59:59 EST, just before the jump
    { t: iso('2026-03-08T06:59:59.000Z'), user: 'alice', route: '/b', ua: UA.firefox },
    { t: iso('2026-03-08T07:00:00.000Z'), user: 'bob', route: '/b', ua: UA.safari }, // 03:00 EDT, just after
    {
      t: iso('2026-03-08T15:00:00.000Z'), user: 'alice', kind: 'pageview',
      ...client({ path: '/docs?q=secret#top', sid: 's1' })
    },
    {
      t: iso('2026-03-08T15:00:01.000Z'), user: 'alice', kind: 'interaction',
      ...client({ event: 'click', element: 'buy', sid: 's1' })
    },
    { t: iso('2026-03-08T15:00:02.000Z'), user: 'alice', kind: 'heartbeat', ...client({ path: '/docs', sid: 's1' }) },
    // A multi-page visit reports its end on every page it leaves: s1 counts once, for 90 s.
    { t: iso('2026-03-08T15:00:30.000Z'), user: 'alice', kind: 'session_end', ...client({ sid: 's1', duration: 30 }) },
    { t: iso('2026-03-08T15:01:30.000Z'), user: 'alice', kind: 'session_end', ...client({ sid: 's1', duration: 90 }) },
    { t: iso('2026-03-08T16:00:00.000Z'), user: 'bob', kind: 'session_end', ...client({ sid: 's2', duration: 31 }) },
    { t: iso('2026-03-09T03:59:59.999Z'), user: 'bob', route: '/b', ua: UA.safari }, // Mar 8, 23:59:59.999 EDT
    { t: iso('2026-03-09T04:00:00.000Z'), user: 'bob', route: null, status: 404 } // Mar 9, 00:00 EDT
  ], 'America/New_York')

  const report = await buildReport(db, keys, new DayClock('America/New_York'), 3, iso('2026-03-09T12:00:00Z'))
  t.equal(report.timeZone, 'America/New_York')
  t.same(report.days.map((d) => d.date), ['2026-03-07', '2026-03-08', '2026-03-09'])
  const [d7, d8, d9] = report.days
  t.match(d7, { requests: 1, routes: { '/a': 1 }, users: 1, pageviews: 0, sessions: 0 })
  t.same(d8, {
    date: '2026-03-08',
    requests: 4,
    pageviews: 1,
    interactions: 1,
    sessions: 2,
    sessionsEnded: 2,
    avgSessionSeconds: 61, // (90 + 31) / 2 = 60.5, rounded
    users: 2,
    events: { pageview: 1, heartbeat: 1, interaction: 1, session_end: 3 },
    interactionEvents: { click: 1 },
    pages: { '/docs': 1 },
    routes: { '/b': 3, '/a': 1 }
  })
  t.match(d9, { requests: 1, routes: { '(unmatched)': 1 }, users: 1 })
  t.same(report.summary, {
    requests: 6, pageviews: 1, interactions: 1, sessionsEnded: 2, avgSessionSeconds: 61, users: 2, sessions: 2,
    first: iso('2026-03-08T04:59:59.000Z'), last: iso('2026-03-09T04:00:00.000Z')
  })
  t.same(report.browsers.map((b) => [b.name, b.count]), [['Chrome', 1], ['Firefox', 1], ['Safari', 1]])
  checkShare(t, report)

  // Counted in UTC, the first instant is on March 8 and the last on March 9: the zone decides.
  await db.flushall()
  await writeEntries([
    { t: iso('2026-03-08T04:59:59.000Z'), user: 'alice', route: '/a' },
    { t: iso('2026-03-09T03:59:59.999Z'), user: 'bob', route: '/b' }
  ], 'UTC')
  const utc = await buildReport(db, keys, new DayClock('UTC'), 3, iso('2026-03-09T12:00:00Z'))
  t.same(utc.days.map((d) => d.requests), [0, 1, 1])
})

t.test('New York fall-back day has 25 hours; Paris too', async (t) => {
  // Out of order on purpose: one batch, the earliest and latest of each day still found.
  await writeEntries([
    { t: iso('2026-11-01T12:00:00.000Z'), user: 'a', route: '/x' },
    { t: iso('2026-11-02T05:00:00.000Z'), user: 'a', route: '/x' }, // Nov 2, 00:00 EST
    { t: iso('2026-11-02T04:59:59.999Z'), user: 'a', route: '/x' }, // Nov 1, 23:59:59.999 EST
    { t: iso('2026-11-01T04:00:00.000Z'), user: 'a', route: '/x' } // Nov 1, 00:00 EDT
  ], 'America/New_York')
  const ny = await buildReport(db, keys, new DayClock('America/New_York'), 2, iso('2026-11-02T12:00:00Z'))
  t.same(ny.days.map((d) => [d.date, d.requests]), [['2026-11-01', 3], ['2026-11-02', 1]])
  t.same([ny.summary.first, ny.summary.last], [iso('2026-11-01T04:00:00.000Z'), iso('2026-11-02T05:00:00.000Z')])
  t.same(await db.hmget(keys.stats('2026-11-01', 'totals'), 'first', 'last'),
    [String(iso('2026-11-01T04:00:00.000Z')), String(iso('2026-11-02T04:59:59.999Z'))])

  await db.flushall()
  await writeEntries([
    { t: iso('2026-10-24T21:59:59.999Z'), user: 'p', route: '/x' }, // Oct 24, 23:59:59.999 CEST
    { t: iso('2026-10-24T22:00:00.000Z'), user: 'p', route: '/x' }, // Oct 25, 00:00 CEST
    { t: iso('2026-10-25T22:59:59.999Z'), user: 'p', route: '/x' }, // Oct 25, 23:59:59.999 CET
    { t: iso('2026-10-25T23:00:00.000Z'), user: 'p', route: '/x' } // Oct 26, 00:00 CET
  ], 'Europe/Paris')
  const paris = await buildReport(db, keys, new DayClock('Europe/Paris'), 3, iso('2026-10-26T12:00:00Z'))
  t.same(paris.days.map((d) => [d.date, d.requests]), [['2026-10-24', 1], ['2026-10-25', 2], ['2026-10-26', 1]])
})

t.test('GET /api/report: N zero-filled days ending today in the zone, oldest first, with the counts', async (t) => {
  const timeZone = 'Pacific/Kiritimati' // UTC+14: its date differs from UTC's for 14 hours a day
  const { app } = await buildApp({ redis: redis.url, timeZone })
  t.teardown(() => app.close())
  const before = today(timeZone)
  const get = async (url: string, user = asUser('alice'), ua = UA.chrome): Promise<void> => {
    await app.inject({ url, headers: { ...user, 'user-agent': ua } })
  }
  for (let i = 0; i < 3; i++) await get('/hello')
  await get('/items/1', asUser('alice'), UA.firefox)
  await get('/items/2', asUser('alice'), UA.firefox)
  await get('/missing', asUser('bob'), UA.bot)
  await app.inject({
    method: 'POST', url: '/items', headers: { ...asUser('carol'), 'user-agent': UA.safari }, payload: { a: 1 }
  })
  await get('/quiet', asUser('dave'), UA.edge) // opted out: not logged, not counted
  app.userlog.record('alice', { kind: 'pageview', src: 'client', path: '/docs?page=2', sid: 's1' })
  app.userlog.record('alice', { kind: 'pageview', src: 'client', path: '/docs', sid: 's1' })
  app.userlog.record('carol', { kind: 'pageview', src: 'client', path: '/', sid: 's2' })
  app.userlog.record('alice', { kind: 'interaction', src: 'client', event: 'click', element: 'buy', sid: 's1' })
  app.userlog.record('alice', { kind: 'session_end', src: 'client', sid: 's1', duration: 120 })
  await app.userlog.flush()

  const res = await app.inject({ url: '/userlog/api/report', headers: asAdmin })
  t.equal(res.statusCode, 200)
  const report = res.json<Report>()
  const after = today(timeZone)
  t.equal(report.timeZone, timeZone)
  t.equal(report.days.length, 7, 'seven days by default')
  t.ok([before, after].includes(report.to), `ends today in ${timeZone}`)
  report.days.forEach((d, i) => {
    if (i > 0) t.equal(d.date, addDays(report.days[i - 1]?.date as string, 1), 'consecutive, oldest first')
  })
  t.equal(report.from, report.days[0]?.date)
  const last = report.days[6]
  t.match(last, {
    requests: 7,
    pageviews: 3,
    interactions: 1,
    sessions: 2,
    sessionsEnded: 1,
    avgSessionSeconds: 120,
    users: 3,
    events: { pageview: 3, heartbeat: 0, interaction: 1, session_end: 1 },
    interactionEvents: { click: 1 },
    pages: { '/docs': 2, '/': 1 }
  })
  t.same(last?.routes, { '/hello': 3, '/items/:id': 2, '(unmatched)': 1, '/items': 1 })
  for (const d of report.days.slice(0, 6)) {
    t.same(d, {
      date: d.date,
      requests: 0,
      pageviews: 0,
      interactions: 0,
      sessions: 0,
      sessionsEnded: 0,
      avgSessionSeconds: 0,
      users: 0,
      events: { pageview: 0, heartbeat: 0, interaction: 0, session_end: 0 },
      interactionEvents: {},
      pages: {},
      routes: {}
    }, `${d.date} is zero-filled`)
  }
  t.match(report.summary,
    { requests: 7, pageviews: 3, interactions: 1, users: 3, sessions: 2, first: Number, last: Number })
  t.ok((report.summary.first as number) <= (report.summary.last as number))
  // alice: Chrome and Firefox; bob: a bot; carol: Safari.
  t.same(report.browsers.map((b) => b.name).sort(), ['Bot', 'Chrome', 'Firefox', 'Safari'])
  t.same(report.browsers.map((b) => b.percent), [25, 25, 25, 25])
  checkShare(t, report)

  for (const days of [1, 14, 31]) {
    const r = await app.inject({ url: `/userlog/api/report?days=${days}`, headers: asAdmin })
    t.equal(r.json<Report>().days.length, days, `days=${days}`)
  }
  for (const bad of ['days=0', 'days=32', 'days=x', 'days=007', 'days=7&x=1', 'days=-1']) {
    const r = await app.inject({ url: `/userlog/api/report?${bad}`, headers: asAdmin })
    t.equal(r.statusCode, 400, bad)
    t.match(r.json(), { error: 'Bad Request', message: String })
  }
})

t.test('page paths are capped at 500 a day, then counted as "other"', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  for (let i = 0; i < MAX_PAGES + 10; i++) {
    app.userlog.record('mallory', { kind: 'pageview', src: 'client', path: `/forged/${i}`, sid: 'x' })
  }
  await app.userlog.flush()
  app.userlog.record('mallory', { kind: 'pageview', src: 'client', path: '/forged/0?again=1', sid: 'x' })
  app.userlog.record('mallory', { kind: 'pageview', src: 'client', path: '/forged/new', sid: 'x' })
  await app.userlog.flush()
  const key = keys.stats(today('UTC'), 'pages')
  t.equal(await db.hlen(key), MAX_PAGES + 1, '500 paths and "other"')
  t.equal(await db.hget(key, 'other'), '11', 'the 10 past the cap, then one more new path')
  t.equal(await db.hget(key, '/forged/0'), '2', 'a known path keeps counting')
  const report = (await app.inject({ url: '/userlog/api/report?days=1', headers: asAdmin })).json<Report>()
  const pages = report.days[0]?.pages ?? {}
  t.equal(Object.keys(pages).length, 11, 'top 10 and "other"')
  t.equal(Object.keys(pages)[0], '/forged/0')
  t.equal(Object.values(pages).reduce((a, b) => a + b, 0), MAX_PAGES + 12, 'nothing lost')
  t.equal(report.days[0]?.pageviews, MAX_PAGES + 12)
})

t.test('every counter key expires after the retention period', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  await app.inject({ url: '/hello', headers: { ...asUser('alice'), 'user-agent': UA.chrome } })
  app.userlog.record('alice', { kind: 'pageview', src: 'client', path: '/p', sid: 's' })
  app.userlog.record('alice', { kind: 'interaction', src: 'client', event: 'click', sid: 's' })
  app.userlog.record('alice', { kind: 'session_end', src: 'client', sid: 's', duration: 3 })
  await app.userlog.flush()
  const day = today('UTC')
  const found = (await db.keys('userlog:{stats}:*')).sort()
  t.same(found, ['browser:Chrome', 'ended', 'interactions', 'pages', 'routes', 'sessions', 'totals', 'users']
    .map((w) => keys.stats(day, w)).sort())
  for (const key of found) {
    const ttl = await db.ttl(key)
    t.ok(ttl > STATS_TTL_S - 60 && ttl <= STATS_TTL_S, `${key} TTL ${ttl}`)
  }
  t.ok(STATS_TTL_S >= 8 * 86_400, 'kept at least 8 days')
})

t.test('erasure: no key of the user is left, counts stay, a second DELETE is still 204', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  const user = 'erin:x y'
  for (const url of ['/hello', '/items/3']) {
    await app.inject({ url, headers: { ...asUser(user), 'user-agent': UA.firefox } })
  }
  app.userlog.record(user, { kind: 'pageview', src: 'client', path: '/account', sid: 'e1' })
  app.userlog.record(user, { kind: 'session_end', src: 'client', sid: 'e1', duration: 5 })
  await app.inject({ url: '/hello', headers: asUser('frank') })
  await app.userlog.flush()

  const erase = { method: 'DELETE', url: `/userlog/api/users/${encodeURIComponent(user)}`, headers: asAdmin } as const
  const del = await app.inject(erase)
  t.equal(del.statusCode, 204)
  const names = ['erin', encodeUser(user)]
  const all: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await db.scan(cursor, 'MATCH', '*', 'COUNT', 1000)
    cursor = next
    all.push(...batch)
  } while (cursor !== '0')
  t.same(all.filter((k) => names.some((n) => k.includes(n))), [], 'no key names the user')
  // Counter hashes hold counts by route, page and event; HyperLogLogs hold no names.
  for (const key of all.filter((k) => k.includes('{stats}'))) {
    if ((await db.type(key)) !== 'hash') continue
    const hash = await db.hgetall(key)
    t.notOk(Object.entries(hash).some(([f, v]) => f.includes('erin') || v.includes('erin')),
      `${key} does not name the user`)
  }
  t.notOk(JSON.stringify(await db.zrange(keys.usersIndex, '0', '-1')).includes('erin'),
    'the users index forgot the user')
  t.notOk(JSON.stringify(await db.zrange(keys.namesIndex, '0', '-1')).includes('erin'),
    'the names index forgot the user')
  t.notOk(JSON.stringify(await db.hgetall(keys.lastPath)).includes('erin'), 'the last-path hash forgot the user')
  t.equal((await app.inject({ url: `/userlog/api/logs/${encodeURIComponent(user)}`, headers: asAdmin })).statusCode,
    404)
  t.equal((await app.inject(erase)).statusCode, 204, 'idempotent')
  const report = (await app.inject({ url: '/userlog/api/report?days=1', headers: asAdmin })).json<Report>()
  t.match(report.days[0], { requests: 3, pageviews: 1, users: 2 }, 'aggregate counts are kept')
})

t.test('non-admins get 403 on the report, exports and audit', async (t) => {
  const { app } = await buildApp({ redis: redis.url, anonymizeSecret: 'a-secret-of-16-chars-or-more' })
  t.teardown(() => app.close())
  await app.inject({ url: '/hello', headers: asUser('alice') })
  await app.userlog.flush()
  for (const url of [
    '/userlog/api/report', '/userlog/api/report?days=31', '/userlog/api/export',
    '/userlog/api/export?format=ndjson&anonymize=true', '/userlog/api/logs/alice/export',
    '/userlog/api/logs/alice/export?format=csv', '/userlog/api/audit'
  ]) {
    for (const headers of [asUser('alice'), {}]) {
      const res = await app.inject({ url, headers })
      t.equal(res.statusCode, 403, url)
      t.same(res.json(), { error: 'Forbidden', message: 'Only administrators can read user logs' })
    }
  }
})

t.test('units: top 10 + other, percentages, browser table and cache, page paths', async (t) => {
  t.same(top({ '/a': '5', '/b': '7', other: '2', '/c': '5' }, 2), { '/b': 7, '/a': 5, other: 7 })
  const proto = top(JSON.parse('{"__proto__":"3","/x":"1"}') as Record<string, string>, 10)
  t.same(Object.entries(proto), [['__proto__', 3], ['/x', 1]], 'a field named __proto__ stays data')
  t.same(percentages([1, 1, 1]), [33.34, 33.33, 33.33])
  t.same(percentages([0, 0]), [0, 0])
  t.equal(percentages([1, 2, 3, 7, 11, 13, 17]).reduce((a, b) => a + b, 0).toFixed(2), '100.00')
  const cases: Array<[string, string]> = [
    [UA.chrome, 'Chrome'], [UA.firefox, 'Firefox'], [UA.safari, 'Safari'], [UA.edge, 'Edge'], [UA.bot, 'Bot'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) ' +
      'Chrome/135.0.0.0 Safari/537.36 OPR/120.0.0.0', 'Opera'],
    ['Opera/9.80 (Windows NT 6.1) Presto/2.12.388 Version/12.16', 'Opera'],
    ['Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) ' +
      'SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36', 'Samsung Internet'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) ' +
      'Chrome/70.0.3538.102 Safari/537.36 Edge/18.19582', 'Edge'],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) ' +
      'CriOS/135.0 Mobile/15E148 Safari/604.1', 'Chrome'],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) ' +
      'FxiOS/128.0 Mobile/15E148 Safari/605.1.15', 'Firefox'],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
      'Safari'],
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/135.0.0.0 Safari/537.36',
      'Bot'],
    ['curl/8.5.0', 'Bot'], ['', 'Other'], ['Lynx/2.9.0 libwww-FM/2.14', 'Other']
  ]
  for (const [ua, family] of cases) t.equal(browserFamily(ua), family, ua.slice(0, 60))
  const cache = new BrowserCache(3)
  for (let i = 0; i < 10; i++) cache.index(`agent ${i}`)
  t.equal(cache.entries, 3, 'the cache is bounded')
  t.equal(cache.index(UA.firefox), 5)
  t.equal(pagePath('/a/b?x=1#y'), '/a/b')
  t.equal(pagePath('/a#y?x'), '/a')
  t.equal(pagePath('/' + 'x'.repeat(1000)).length, 256)
})

t.test('events posted to the collector are counted: page views by path, interactions by event, sessions', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  const post = async (payload: unknown, cookie?: string): Promise<string | undefined> => {
    const res = await app.inject({
      method: 'POST',
      url: '/userlog/events',
      headers: { host: 'app.test', origin: 'http://app.test', 'content-type': 'application/json', 'user-agent': UA.firefox, ...asUser('gina'), ...(cookie ? { cookie } : {}) },
      payload: JSON.stringify(payload)
    })
    t.equal(res.statusCode, 204)
    const set = res.headers['set-cookie']
    const line = (Array.isArray(set) ? set : [set]).find((c) => c?.startsWith('userlog_sid='))
    return line?.split(';')[0]
  }
  const cookie = await post({ type: 'pageview', path: '/shop?item=3' })
  await post([
    { type: 'interaction', path: '/shop', event: 'click', element: 'buy' },
    { type: 'interaction', path: '/shop', event: 'submit', element: 'form' },
    { type: 'heartbeat', path: '/shop' },
    { type: 'pageview', path: '/cart' },
    { type: 'session_end', path: '/cart' }
  ], cookie)
  await app.userlog.flush()
  const report = (await app.inject({ url: '/userlog/api/report?days=1', headers: asAdmin })).json<Report>()
  t.match(report.days[0], {
    pageviews: 2, interactions: 2, sessions: 1, sessionsEnded: 1, users: 1,
    events: { pageview: 2, heartbeat: 1, interaction: 2, session_end: 1 },
    interactionEvents: { click: 1, submit: 1 },
    pages: { '/cart': 1, '/shop': 1 }
  })
  t.same(report.browsers.map((b) => [b.name, b.percent]), [['Firefox', 100]])
})
